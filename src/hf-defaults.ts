/**
 * transformers' HubertConfig defaults. They live in the architecture spec (src/architectures/hubert/config.ts); this
 * module keeps the old import path working.
 */
export { HUBERT_CONFIG_DEFAULTS } from './architectures/hubert/config.js';
