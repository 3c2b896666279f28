import { type ConfigOverrides, derivePreprocessor, deriveHubertConfig } from '../hubert-config.js';
import type { EncoderSpec } from '../encoder-spec.js';
import type { MappedTensors } from '../state-dict.js';
import type { Conversion, SourceKind } from '../types.js';

/** The Conversion of a bare encoder (HubertModel): config derived and cross-checked, tensors as mapped. */
export function encoderConversion(
  kind: SourceKind,
  spec: EncoderSpec,
  out: MappedTensors,
  options: Omit<ConfigOverrides, 'architecture'> & { doNormalize: boolean },
): Conversion {
  const { doNormalize, ...overrides } = options;
  const config = deriveHubertConfig(spec, out.tensors, { architecture: 'HubertModel', ...overrides });
  return {
    kind,
    model: { architecture: 'HubertModel', config, preprocessor: derivePreprocessor(config, doNormalize), tensors: out.tensors },
    mapped: out.mapped,
    dropped: out.dropped,
    warnings: [],
    sourceNameOf: out.sourceNameOf,
  };
}
