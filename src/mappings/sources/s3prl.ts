import { HUBERT_BASE_PREFIX } from '../../architectures/hubert/names.js';
import { CorruptInputError, UnsupportedModelError, UsageError } from '../../errors.js';
import { CfgReader, isCfgMap } from '../cfg-fields.js';
import { distillerEncoderSpec, fairseqEncoderSpec } from '../encoder-spec.js';
import { PRETRAINED_FINAL_DROPOUT } from '../hubert-config.js';
import { MappedTensors, stateDictAt } from '../state-dict.js';
import { fairseqHubertTable } from '../tables/fairseq.js';
import {
  DISTILHUBERT_TABLE,
  SUPERB_DOWNSTREAM_TABLE,
  SUPERB_EXPERT_LABELS,
  SUPERB_FEATURIZER_TABLE,
  SUPERB_SLOT_EXPERT,
  SUPERB_UPSTREAM_PREFIX,
} from '../tables/s3prl.js';
import type { Conversion, ConversionOptions, DroppedTensor, MappedTensor } from '../types.js';
import type { TensorData } from '../../tensor.js';
import { encoderConversion } from './encoder-conversion.js';
import { mapFairseqEncoder } from './fairseq.js';

function section(root: Map<unknown, unknown>, path: string[], file: string, what: string): CfgReader {
  let value: unknown = root;
  for (const key of path) value = isCfgMap(value) ? value.get(key) : undefined;
  if (!isCfgMap(value)) throw new CorruptInputError('E_NO_CONFIG', `${file}: ${path.join('.')} (${what}) is missing or not a dict`);
  return new CfgReader(value, path.join('.'));
}

/** s3prl's converted HuBERT: fairseq's cfg sections and state dict, re-saved as plain data (s3prl/upstream/hubert/convert.py). */
export function convertS3prlHubert(root: Map<unknown, unknown>, file: string): Conversion {
  const spec = fairseqEncoderSpec(section(root, ['model_cfg'], file, 'the fairseq model config'));
  const task = section(root, ['task_cfg'], file, 'the fairseq task config');
  const out = new MappedTensors();
  mapFairseqEncoder(out, stateDictAt(root, ['model_weight'], file), spec);
  return encoderConversion('s3prl-hubert', spec, out, {
    featProjLayerNorm: true,
    applySpecAugment: true,
    finalDropout: PRETRAINED_FINAL_DROPOUT,
    doNormalize: task.boolean('normalize', false),
  });
}

/** DistilHuBERT as s3prl's distiller pretraining saves it (`Distiller` state dict, `Config.distiller`). */
export function convertDistilHubert(root: Map<unknown, unknown>, file: string): Conversion {
  const spec = distillerEncoderSpec(section(root, ['Config', 'distiller'], file, 'the DistillerConfig'));
  const out = new MappedTensors();
  out.add(stateDictAt(root, ['Distiller'], file), DISTILHUBERT_TABLE);
  return encoderConversion('distilhubert', spec, out, {
    featProjLayerNorm: false, // the distiller has no LayerNorm before post_extract_proj
    applySpecAugment: false,
    finalDropout: 0.0,
    doNormalize: false, // s3prl's distiller upstream feeds raw waveforms, as HF's DistilHuBERT port does
  });
}

/**
 * A SUPERB utterance-level downstream head plus its upstream → HubertForSequenceClassification. Only the shape HF can
 * represent converts: softmax-weighted featurizer without normalisation, projector, mean pooling, one linear layer.
 */
export function convertSuperbDownstream(root: Map<unknown, unknown>, file: string, options: ConversionOptions, upstream: Conversion): Conversion {
  const notConvertible = (why: string): never => {
    throw new UnsupportedModelError('E_NOT_CONVERTIBLE', `${file}: this SUPERB downstream head cannot be represented by HubertForSequenceClassification: ${why}`);
  };
  const modelrc = section(root, ['Config', 'downstream_expert', 'modelrc'], file, 'the downstream model config');
  const select = modelrc.string('select', '');
  if (select !== 'UtteranceLevel') notConvertible(`modelrc.select is "${select}"; only "UtteranceLevel" heads have an HF equivalent`);
  const pooling = modelrc.map('UtteranceLevel')?.string('pooling', 'MeanPooling') ?? 'MeanPooling';
  if (pooling !== 'MeanPooling') notConvertible(`pooling is "${pooling}"; HF uses mean pooling`);
  const args = root.get('Args');
  if (isCfgMap(args) && args.get('upstream_feature_normalize') === true) {
    notConvertible('the featurizer layer-normalises each hidden state (upstream_feature_normalize); HF has no such step');
  }
  if (upstream.model.architecture !== 'HubertModel') notConvertible(`its upstream converts to ${upstream.model.architecture}, not a HubertModel`);

  const downstream = stateDictAt(root, ['Downstream'], file);
  const extra = [...downstream.tensors.keys()].filter((k) => k.startsWith('model.pre_net') || k.startsWith('model.post_net.hiddens'));
  if (extra.length > 0) notConvertible(`it has layers HF lacks (${extra.join(', ')}); only a projector and a single linear classifier convert`);
  const featurizer = stateDictAt(root, ['Featurizer'], file);
  if (!featurizer.tensors.has('weights')) notConvertible('its featurizer selects one layer instead of a weighted sum of all hidden states');

  const out = new MappedTensors();
  // the encoder becomes the `hubert.` sub-model: the checkpoint's own fine-tuned Upstream when it has one, else --upstream
  const finetuned = root.has('Upstream') ? finetunedUpstream(root, file, upstream) : undefined;
  const encoder = finetuned ?? {
    tensors: upstream.model.tensors,
    mapped: upstream.mapped.map((r) => ({ ...r, source: `upstream:${r.source}` })),
    dropped: upstream.dropped.map((r) => ({ ...r, source: `upstream:${r.source}` })),
  };
  for (const record of encoder.mapped) {
    const target = `${HUBERT_BASE_PREFIX}${record.target}`;
    out.tensors.set(target, encoder.tensors.get(record.target)!);
    out.mapped.push({ ...record, target });
  }
  out.dropped.push(...encoder.dropped);
  out.add(downstream, SUPERB_DOWNSTREAM_TABLE);
  out.add(featurizer, SUPERB_FEATURIZER_TABLE);

  const base = upstream.model.config;
  const [projRows, projCols] = out.tensors.get('projector.weight')?.shape ?? [];
  const [classes, classCols] = out.tensors.get('classifier.weight')?.shape ?? [];
  const weights = out.tensors.get('layer_weights')!.shape;
  if (projRows === undefined || projCols !== base.hidden_size) notConvertible(`projector.weight has shape [${projRows}, ${projCols}], expected [*, ${base.hidden_size}] for this upstream`);
  if (classes === undefined || classCols !== projRows) notConvertible(`the classifier takes ${classCols} inputs but the projector gives ${projRows}`);
  if (weights.length !== 1 || weights[0] !== base.num_hidden_layers + 1) {
    notConvertible(`the featurizer weighs ${weights.join('x')} hidden states but the upstream has ${base.num_hidden_layers + 1}; is --upstream the model this head was trained on?`);
  }
  const expert = isCfgMap(args) && typeof args.get('downstream') === 'string' ? (args.get('downstream') as string) : '';
  const labels = classLabels(options.labels, expert, classes!);
  const config = {
    ...base,
    architectures: ['HubertForSequenceClassification' as const],
    use_weighted_layer_sum: true,
    classifier_proj_size: projRows!,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
  };
  return {
    kind: 'superb-downstream',
    model: { architecture: 'HubertForSequenceClassification', config, preprocessor: upstream.model.preprocessor, tensors: out.tensors },
    mapped: out.mapped,
    dropped: out.dropped,
    sourceNameOf: (target) => {
      if (!target.startsWith(HUBERT_BASE_PREFIX)) return out.sourceNameOf(target);
      const source = upstream.sourceNameOf?.(target.slice(HUBERT_BASE_PREFIX.length));
      return source && `upstream:${source}`;
    },
    warnings: [
      ...upstream.warnings,
      ...(finetuned
        ? [
            `the encoder weights are the checkpoint's own fine-tuned Upstream (${finetuned.mapped.length} tensors, trained with the head); ` +
              `--upstream ${options.upstream?.file ?? ''} gave the architecture and preprocessing only`,
          ]
        : []),
      ...(base.do_stable_layer_norm
        ? [
            'the upstream is pre-LN: transformers 5.x puts the last layer\'s raw output (without the final LayerNorm) last in hidden_states, ' +
              'while s3prl\'s featurizer weighed the normalised one, so the weighted layer sum (and the logits) differ from s3prl\'s',
          ]
        : []),
    ],
  };
}

/**
 * The checkpoint's `Upstream` state (saved when the upstream was trainable), mapped as a HubertModel. It carries no
 * config, so the architecture is the --upstream conversion's, and every tensor must match it by name and shape.
 */
function finetunedUpstream(
  root: Map<unknown, unknown>,
  file: string,
  upstream: Conversion,
): { tensors: Map<string, TensorData>; mapped: MappedTensor[]; dropped: DroppedTensor[] } {
  const dict = stateDictAt(root, ['Upstream'], file);
  const foreign = [...dict.tensors.keys()].filter((k) => !k.startsWith(SUPERB_UPSTREAM_PREFIX));
  if (foreign.length > 0) {
    throw new UnsupportedModelError(
      'E_UNKNOWN_KEYS',
      `${file}: the fine-tuned Upstream has tensors outside s3prl's HuBERT upstream ("${SUPERB_UPSTREAM_PREFIX}*"): ${foreign.join(', ')}; only a HuBERT upstream converts`,
      { unknown: foreign },
    );
  }
  const config = upstream.model.config;
  const enc = new MappedTensors();
  enc.add(dict, fairseqHubertTable({ posConvBatchNorm: config.conv_pos_batch_norm === true, keepMaskEmb: upstream.model.tensors.has('masked_spec_embed') }), {
    stripPrefix: SUPERB_UPSTREAM_PREFIX,
  });
  const problems: string[] = [];
  for (const [name, t] of upstream.model.tensors) {
    const mine = enc.tensors.get(name);
    if (!mine) problems.push(`${name} missing`);
    else if (mine.shape.join('x') !== t.shape.join('x')) problems.push(`${name} is [${mine.shape.join(', ')}], --upstream has [${t.shape.join(', ')}]`);
  }
  for (const name of enc.tensors.keys()) if (!upstream.model.tensors.has(name)) problems.push(`${name} is not in the --upstream model`);
  if (problems.length > 0) {
    throw new UsageError(
      'E_UPSTREAM_MISMATCH',
      `${file}: its fine-tuned Upstream does not have the architecture of --upstream (${problems.join('; ')}); pass the pretrained upstream this head was trained from`,
      { problems },
    );
  }
  return enc;
}

/**
 * Class labels, in class-index order: --labels, else the ones the expert's code fixes, else LABEL_i. Intent
 * classification labels may be given as slot:value; they are then named the way the released superb IC models name
 * their concatenated slots (the value, with `_<slot>` appended when another slot has the same value).
 */
function classLabels(given: string[] | undefined, expert: string, classes: number): string[] {
  if (!given) {
    const known = SUPERB_EXPERT_LABELS[expert];
    return known && known.length === classes ? [...known] : Array.from({ length: classes }, (_, i) => `LABEL_${i}`);
  }
  const slotted = expert === SUPERB_SLOT_EXPERT && given.length > 0 && given.every((l) => /^[^:]+:.+$/.test(l));
  const labels = slotted ? slotLabels(given) : given;
  if (labels.length !== classes) {
    throw new UsageError('E_LABEL_COUNT', `--labels gives ${labels.length} labels but the classifier has ${classes} classes`);
  }
  const repeated = labels.filter((l, i) => labels.indexOf(l) !== i);
  if (repeated.length > 0) {
    const hint = expert === SUPERB_SLOT_EXPERT ? '; for intent classification give them as slot:value (e.g. object:none,location:none)' : '';
    throw new UsageError('E_DUPLICATE_LABELS', `--labels repeats ${[...new Set(repeated)].join(', ')}; every class needs its own label${hint}`);
  }
  return labels;
}

function slotLabels(given: string[]): string[] {
  const pairs = given.map((l) => {
    const at = l.indexOf(':');
    return { slot: l.slice(0, at), value: l.slice(at + 1) };
  });
  const slotsOf = new Map<string, Set<string>>();
  for (const { slot, value } of pairs) slotsOf.set(value, (slotsOf.get(value) ?? new Set()).add(slot));
  return pairs.map(({ slot, value }) => (slotsOf.get(value)!.size > 1 ? `${value}_${slot}` : value));
}
