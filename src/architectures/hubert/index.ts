/**
 * The HuBERT architecture spec: config fields and rules (./config), tensor vocabulary (./names), tensor schema
 * (./tensors) and preprocessor (./preprocessor). Every stage asks these modules; see docs/ARCHITECTURE.md.
 */
import type { HfArchitecture } from '../../model.js';

export * from './config.js';
export * from './names.js';
export * from './tensors.js';
export * from './preprocessor.js';
export * from './projection.js';

export const HUBERT_FAMILY = {
  family: 'hubert',
  modelType: 'hubert',
  architectures: ['HubertModel', 'HubertForCTC', 'HubertForSequenceClassification'] as readonly HfArchitecture[],
} as const;
