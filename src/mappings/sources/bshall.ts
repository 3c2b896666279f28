import { CorruptInputError, UsageError } from '../../errors.js';
import type { EncoderSpec } from '../encoder-spec.js';
import { PRETRAINED_FINAL_DROPOUT } from '../hubert-config.js';
import { isProjectionKey, mapProjection } from '../projection.js';
import { MappedTensors, type SourceStateDict, stateDictAt } from '../state-dict.js';
import { BSHALL_DDP_PREFIX, bshallTable } from '../tables/bshall.js';
import type { Conversion, ConversionOptions } from '../types.js';
import { encoderConversion } from './encoder-conversion.js';

/**
 * bshall/hubert's HubertSoft and HubertDiscrete (`hubert/model.py`): state dicts with no config, so the architecture
 * is read from the tensors and from what the code fixes. The constants below are that code's, cited by name.
 */
export const BSHALL = {
  /** FeatureExtractor: Conv1d(…, 10, 5), four (…, 3, 2), two (…, 2, 2); kernels are in the weights, strides only here. */
  convKernels: [10, 3, 3, 3, 3, 2, 2],
  convStrides: [5, 2, 2, 2, 2, 2, 2],
  /** nn.TransformerEncoderLayer(768, 12, 3072): 12 heads of 64 channels. */
  headWidth: 64,
  /** nn.TransformerEncoderLayer's default dropout (attention, activation and residual alike) and FeatureProjection's. */
  dropout: 0.1,
  /** Hubert.mask: _compute_mask(mask_prob 0.8, mask_length 10, min_masks 2) while training. */
  maskProb: 0.8,
  maskLength: 10,
  /** units(): F.pad(wav, ((400 - 320) // 2, (400 - 320) // 2)): half the receptive field beyond one hop, each side. */
  inputPadding: 40,
  /** HubertDiscrete.units(): encode(wav, layer=7), then k-means. */
  unitLayer: 7,
  /** HubertDiscrete: super().__init__(504); HubertSoft: the default 100 label embeddings. */
  discreteLabels: 504,
} as const;

/** Where the state dict is: `{"hubert": …}` (v0.2 releases, train.py checkpoints) or the top level (v0.1 releases). */
export function bshallStateDict(root: Map<unknown, unknown>, file: string): SourceStateDict {
  return root.get('hubert') instanceof Map ? stateDictAt(root, ['hubert'], file) : stateDictAt(root, [], file);
}

function shapeOf(dict: SourceStateDict, strip: string, key: string, file: string): readonly number[] {
  const t = dict.tensors.get(strip + key);
  if (!t) {
    throw new CorruptInputError('E_MISSING_TENSOR', `${file}: a bshall/hubert state dict needs ${dict.path ? `${dict.path}/` : ''}${strip}${key}, which is missing; the file is damaged or not a bshall model`, {
      missing: [strip + key],
    });
  }
  return t.shape;
}

/** The architecture from the tensors and bshall's constants (the state dict records no config). */
function bshallSpec(dict: SourceStateDict, strip: string, file: string, heads: number | undefined): EncoderSpec {
  const hidden = shapeOf(dict, strip, 'norm.weight', file)[0]!;
  const convDims: number[] = [];
  while (dict.tensors.has(`${strip}feature_extractor.conv${convDims.length}.weight`)) convDims.push(shapeOf(dict, strip, `feature_extractor.conv${convDims.length}.weight`, file)[0]!);
  if (convDims.length !== BSHALL.convKernels.length) {
    throw new CorruptInputError('E_CONFIG_MISMATCH', `${file}: bshall's feature extractor has ${BSHALL.convKernels.length} convolutions (conv0..conv6), this state dict ${convDims.length}; it is not a bshall/hubert model`);
  }
  let layers = 0;
  while (dict.tensors.has(`${strip}encoder.layers.${layers}.self_attn.in_proj_weight`)) layers++;
  const posConv = shapeOf(dict, strip, dict.tensors.has(`${strip}positional_embedding.conv.weight_v`) ? 'positional_embedding.conv.weight_v' : 'positional_embedding.conv.parametrizations.weight.original1', file);
  let attentionHeads = heads;
  if (attentionHeads === undefined) {
    if (hidden % BSHALL.headWidth !== 0) {
      throw new UsageError(
        'E_NEEDS_HEADS',
        `${file}: a bshall/hubert state dict does not record its attention heads; bshall's code fixes 12 heads of ${BSHALL.headWidth} channels for its 768-wide models, but this one is ${hidden} wide. Pass the head count it was built with: --heads <n>`,
        { hiddenSize: hidden },
      );
    }
    attentionHeads = hidden / BSHALL.headWidth;
  }
  return {
    extractorMode: 'default',
    convFeatureLayers: convDims.map((d, i) => `[(${d},${BSHALL.convKernels[i]},${BSHALL.convStrides[i]})]`).join(' + '),
    convBias: false,
    encoderLayers: layers,
    embedDim: hidden,
    ffnDim: shapeOf(dict, strip, 'encoder.layers.0.linear1.weight', file)[0]!,
    heads: attentionHeads,
    activationFn: 'gelu',
    layerNormFirst: false,
    convPos: posConv[2]!,
    convPosGroups: posConv[1]! > 0 ? hidden / posConv[1]! : 0,
    convPosBatchNorm: false,
    dropout: BSHALL.dropout,
    attentionDropout: BSHALL.dropout,
    activationDropout: BSHALL.dropout,
    layerdrop: 0,
    dropoutInput: BSHALL.dropout,
    maskProb: BSHALL.maskProb,
    maskLength: BSHALL.maskLength,
    maskChannelProb: 0,
    maskChannelLength: 10,
  };
}

export function convertBshall(root: Map<unknown, unknown>, file: string, variant: 'soft' | 'discrete', options: ConversionOptions): Conversion {
  const dict = bshallStateDict(root, file);
  const keys = [...dict.tensors.keys()];
  // a DistributedDataParallel state dict (every release); torch.hub's loader strips the prefix the same way
  const strip = keys.length > 0 && keys.every((k) => k.startsWith(BSHALL_DDP_PREFIX)) ? BSHALL_DDP_PREFIX : '';
  const spec = bshallSpec(dict, strip, file, options.attentionHeads);
  const head = variant === 'soft' ? mapProjection(dict, 'proj', { stripPrefix: strip }) : undefined;
  if (variant === 'soft' && !head) {
    throw new CorruptInputError('E_MISSING_TENSOR', `${file}: a hubert-soft model needs its soft-unit head proj.weight / proj.bias, which are missing`, { missing: [`${strip}proj.weight`] });
  }
  const out = new MappedTensors();
  out.add(dict, bshallTable(variant), { stripPrefix: strip, keys: keys.filter((k) => !(head && isProjectionKey(k.slice(strip.length), 'proj'))) });
  const warnings: string[] = [];
  if (variant === 'discrete' && spec.encoderLayers < BSHALL.unitLayer) {
    warnings.push(`HubertDiscrete's units() reads layer ${BSHALL.unitLayer}, but this model has only ${spec.encoderLayers} layers`);
  }
  return encoderConversion(
    variant === 'soft' ? 'hubert-soft' : 'hubert-discrete',
    spec,
    out,
    { featProjLayerNorm: true, applySpecAugment: true, finalDropout: PRETRAINED_FINAL_DROPOUT, doNormalize: false },
    {
      ...(head ? { head } : {}),
      inputPadding: BSHALL.inputPadding,
      ...(variant === 'discrete' ? { unitLayer: BSHALL.unitLayer } : {}),
      warnings,
    },
  );
}
