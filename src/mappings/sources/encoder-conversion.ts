import { type ConfigOverrides, derivePreprocessor, deriveHubertConfig } from '../hubert-config.js';
import type { EncoderSpec } from '../encoder-spec.js';
import type { HfModel } from '../../model.js';
import type { mapProjection } from '../projection.js';
import type { MappedTensors } from '../state-dict.js';
import type { Conversion, SourceKind } from '../types.js';

/** What a source family adds to a bare encoder: a projection head, and facts of its original inference API. */
export interface EncoderExtras {
  head?: ReturnType<typeof mapProjection>;
  inputPadding?: number;
  unitLayer?: number;
  warnings?: string[];
}

/** The Conversion of a bare encoder (HubertModel): config derived and cross-checked, tensors as mapped. */
export function encoderConversion(
  kind: SourceKind,
  spec: EncoderSpec,
  out: MappedTensors,
  options: Omit<ConfigOverrides, 'architecture'> & { doNormalize: boolean },
  extras: EncoderExtras = {},
): Conversion {
  const { doNormalize, ...overrides } = options;
  const config = deriveHubertConfig(spec, out.tensors, { architecture: 'HubertModel', ...overrides });
  const model: HfModel = { architecture: 'HubertModel', config, preprocessor: derivePreprocessor(config, doNormalize), tensors: out.tensors };
  if (extras.head) model.projection = extras.head.projection;
  if (extras.inputPadding !== undefined) model.inputPadding = extras.inputPadding;
  if (extras.unitLayer !== undefined) model.unitLayer = extras.unitLayer;
  return {
    kind,
    model,
    mapped: [...out.mapped, ...(extras.head?.mapped ?? [])],
    dropped: out.dropped,
    warnings: [...(extras.warnings ?? [])],
    sourceNameOf: out.sourceNameOf,
  };
}
