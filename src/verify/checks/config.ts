/**
 * Check 2: config.json is valid under the HubertConfig rules and agrees with the weights: every tensor the config
 * implies is present with the implied shape, nothing else is there, and each config switch that changes the state
 * dict (feat_proj_layer_norm, feat_extract_norm, conv_bias, conv_pos_batch_norm, num_hidden_layers, vocab_size,
 * num_labels…) is named specifically when it disagrees.
 */
import type { HfModel, HubertConfig } from '../../model.js';
import { convOutputLength } from '../reference/frames.js';
import { specFor } from '../../architectures/index.js';
import { HUBERT_CONFIG_FIELDS, HUBERT_SHAPE_FIELDS, canonicalName, fieldAccepts, numLabelsOf, preprocessorProblems } from '../../architectures/hubert/index.js';
import { type TensorEntry, sameShape } from '../../architectures/spec.js';
import { type CheckItem, type CheckResult, checkResult } from '../report.js';

export { canonicalName };

const DTYPE_NAMES: Readonly<Record<string, string>> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64' };

function listSome(names: string[], max = 6): string {
  return names.slice(0, max).join(', ') + (names.length > max ? `, … (${names.length} in all)` : '');
}

function fieldItems(raw: Record<string, unknown>): CheckItem[] {
  const items: CheckItem[] = [];
  for (const spec of HUBERT_CONFIG_FIELDS) {
    const field = spec.name;
    if (!(field in raw)) {
      items.push({ subject: `field ${field}`, passed: false, message: `config.json has no "${field}"; transformers would fill in its default silently. Write it explicitly (re-run the conversion)` });
    } else if (!fieldAccepts(spec, raw[field])) {
      items.push({ subject: `field ${field}`, passed: false, message: `config.json ${field} = ${JSON.stringify(raw[field])} is not ${spec.rule}` });
    }
  }
  if (items.length === 0) items.push({ subject: 'fields', passed: true, message: `all ${HUBERT_CONFIG_FIELDS.length} HubertConfig fields present and well-typed` });
  return items;
}

function structureItems(c: HubertConfig): CheckItem[] {
  const items: CheckItem[] = [];
  const heads = c.hidden_size % c.num_attention_heads === 0;
  items.push({
    subject: 'attention heads',
    passed: heads,
    message: heads ? `hidden_size ${c.hidden_size} = ${c.num_attention_heads} heads × ${c.hidden_size / c.num_attention_heads}` : `hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`,
  });
  const lens = [c.conv_dim.length, c.conv_stride.length, c.conv_kernel.length, c.num_feat_extract_layers];
  const convOk = lens.every((l) => l === lens[0]);
  items.push({
    subject: 'conv stack',
    passed: convOk,
    message: convOk
      ? `${lens[0]} conv layers (conv_dim, conv_stride, conv_kernel, num_feat_extract_layers agree)`
      : `conv_dim has ${lens[0]} entries, conv_stride ${lens[1]}, conv_kernel ${lens[2]}, num_feat_extract_layers is ${lens[3]}; they must all be equal`,
  });
  const groupsOk = c.hidden_size % c.num_conv_pos_embedding_groups === 0;
  items.push({
    subject: 'pos-conv groups',
    passed: groupsOk,
    message: groupsOk ? `hidden_size ${c.hidden_size} splits into ${c.num_conv_pos_embedding_groups} groups` : `hidden_size ${c.hidden_size} is not divisible by num_conv_pos_embedding_groups ${c.num_conv_pos_embedding_groups}`,
  });
  if (convOk) {
    const frames = convOutputLength(16000, c.conv_kernel, c.conv_stride);
    const ratio = c.conv_stride.reduce((a, b) => a * b, 1);
    items.push({
      subject: 'frame formula',
      passed: frames >= 1,
      message: `frames = floor((L − k)/s) + 1 per conv layer: 1 s (16000 samples) → ${frames} frames; inputs_to_logits_ratio ${ratio}`,
      details: { framesPerSecond: frames, inputsToLogitsRatio: ratio },
    });
  }
  return items;
}

function tensorItems(model: HfModel): CheckItem[] {
  const c = model.config;
  const items: CheckItem[] = [];
  const actual = new Map<string, { stored: string; shape: readonly number[]; dtype: string }>();
  for (const [stored, t] of model.tensors) actual.set(canonicalName(stored), { stored, shape: t.shape, dtype: t.dtype });
  const expected = new Map<string, TensorEntry>(specFor(c).schema(c, model.architecture).entries.map((e) => [e.name, e]));
  const has = (name: string) => actual.has(name);
  const rule = (subject: string, passed: boolean, ok: string, bad: string) => items.push({ subject, passed, message: passed ? ok : bad });

  // switches that add or remove tensors, named specifically
  const projLN = has('feature_projection.layer_norm.weight');
  rule('feat_proj_layer_norm', projLN === c.feat_proj_layer_norm, `feat_proj_layer_norm ${c.feat_proj_layer_norm} matches the weights`,
    c.feat_proj_layer_norm
      ? 'feat_proj_layer_norm is true but the weights have no feature_projection.layer_norm.weight/bias; set it to false'
      : 'feat_proj_layer_norm is false but the weights have feature_projection.layer_norm.weight/bias; set it to true (the LayerNorm would otherwise be skipped)');
  const convNorms = c.conv_dim.map((_, i) => has(`feature_extractor.conv_layers.${i}.layer_norm.weight`));
  const looksLayer = convNorms.length > 1 && convNorms.slice(1).some(Boolean);
  rule('feat_extract_norm', (c.feat_extract_norm === 'layer') === looksLayer, `feat_extract_norm "${c.feat_extract_norm}" matches the conv layer norms`,
    `feat_extract_norm is "${c.feat_extract_norm}" but the weights have ${looksLayer ? 'a norm on every conv layer (set "layer")' : 'a norm on conv layer 0 only (set "group")'}`);
  const convBias = has('feature_extractor.conv_layers.0.conv.bias');
  rule('conv_bias', convBias === c.conv_bias, `conv_bias ${c.conv_bias} matches the weights`,
    `conv_bias is ${c.conv_bias} but the weights ${convBias ? 'have' : 'lack'} feature_extractor.conv_layers.*.conv.bias; set it to ${convBias}`);
  const bn = has('encoder.pos_conv_embed.batch_norm.weight');
  rule('conv_pos_batch_norm', bn === c.conv_pos_batch_norm, `conv_pos_batch_norm ${c.conv_pos_batch_norm} matches the weights`,
    `conv_pos_batch_norm is ${c.conv_pos_batch_norm} but the weights ${bn ? 'have' : 'lack'} encoder.pos_conv_embed.batch_norm.*; set it to ${bn}`);

  const layerIndices = new Set<number>();
  for (const name of actual.keys()) {
    const m = /^encoder\.layers\.(\d+)\./.exec(name);
    if (m) layerIndices.add(Number(m[1]));
  }
  const present = [...layerIndices].sort((a, b) => a - b);
  const missingLayers = Array.from({ length: c.num_hidden_layers }, (_, i) => i).filter((i) => !layerIndices.has(i));
  const extraLayers = present.filter((i) => i >= c.num_hidden_layers);
  rule('num_hidden_layers', missingLayers.length === 0 && extraLayers.length === 0, `${c.num_hidden_layers} encoder layers, all present`,
    `num_hidden_layers is ${c.num_hidden_layers} but the weights have encoder layers [${present.join(', ')}]` +
      (missingLayers.length ? `; layer(s) ${missingLayers.join(', ')} missing` : '') +
      (extraLayers.length ? `; layer(s) ${extraLayers.join(', ')} beyond the config` : ''));

  const pos = actual.get(c.conv_pos_batch_norm ? 'encoder.pos_conv_embed.conv.weight' : 'encoder.pos_conv_embed.conv.weight_v');
  if (pos) {
    const want = [c.hidden_size, c.hidden_size / c.num_conv_pos_embedding_groups, c.num_conv_pos_embeddings];
    rule('pos-conv shape', sameShape(pos.shape, want), `pos-conv weight [${pos.shape.join(', ')}] = [hidden, hidden/groups, kernel]`,
      `${pos.stored} has shape [${pos.shape.join(', ')}] but num_conv_pos_embedding_groups ${c.num_conv_pos_embedding_groups} and num_conv_pos_embeddings ${c.num_conv_pos_embeddings} imply [${want.join(', ')}]`);
  }
  if (model.architecture === 'HubertForCTC') {
    const rows = actual.get('lm_head.weight')?.shape[0];
    rule('vocab_size', rows === c.vocab_size, `vocab_size ${c.vocab_size} = lm_head rows`, `vocab_size is ${c.vocab_size} but lm_head.weight has ${rows ?? 'no'} rows`);
    const ids = [c.pad_token_id, c.bos_token_id, c.eos_token_id];
    rule('special token ids', ids.every((i) => i < c.vocab_size), 'pad/bos/eos ids inside the vocabulary', `pad/bos/eos ids ${ids.join('/')} must be < vocab_size ${c.vocab_size}`);
  }
  if (model.architecture === 'HubertForSequenceClassification') {
    const rows = actual.get('classifier.weight')?.shape[0];
    const labels = numLabelsOf(c);
    rule('num_labels', rows === labels, `${labels} labels = classifier rows`, `config.json has ${labels} labels (id2label/num_labels) but classifier.weight has ${rows ?? 'no'} rows`);
    const lw = has('layer_weights');
    rule('use_weighted_layer_sum', lw === c.use_weighted_layer_sum, `use_weighted_layer_sum ${c.use_weighted_layer_sum} matches the weights`,
      `use_weighted_layer_sum is ${c.use_weighted_layer_sum} but the weights ${lw ? 'have' : 'lack'} layer_weights`);
  }

  // the complete state dict
  const missing = [...expected.keys()].filter((n) => !actual.has(n));
  const unexpected = [...actual.keys()].filter((n) => !expected.has(n));
  const wrongShape = [...expected].filter(([n, e]) => actual.has(n) && !sameShape(actual.get(n)!.shape, e.shape));
  rule('tensors present', missing.length === 0, `all ${expected.size} tensors the config implies are present`,
    `${missing.length} tensor(s) the config implies are missing: ${listSome(missing)}`);
  rule('no unexpected tensors', unexpected.length === 0, 'no tensors beyond what the config implies',
    `${unexpected.length} tensor(s) the config does not account for: ${listSome(unexpected.map((n) => actual.get(n)!.stored))}`);
  rule('tensor shapes', wrongShape.length === 0, 'every tensor has the shape the config implies',
    `${wrongShape.length} tensor(s) with the wrong shape: ${listSome(wrongShape.map(([n, e]) => `${actual.get(n)!.stored} [${actual.get(n)!.shape.join(', ')}] (config implies [${e.shape.join(', ')}])`), 4)}`);
  const nonFloat = [...actual].filter(([n, t]) => expected.get(n)?.kind !== 'int64' && !['F32', 'F16', 'BF16', 'F64'].includes(t.dtype)).map(([, t]) => `${t.stored} (${t.dtype})`);
  rule('tensor dtypes', nonFloat.length === 0, 'every parameter is a float tensor', `parameters must be float tensors: ${listSome(nonFloat)}`);

  const declared = typeof c.dtype === 'string' ? c.dtype : typeof c['torch_dtype'] === 'string' ? (c['torch_dtype'] as string) : null;
  if (declared && DTYPE_NAMES[declared]) {
    const floatDtypes = new Set([...actual].filter(([n]) => expected.get(n)?.kind !== 'int64').map(([, t]) => t.dtype));
    const want = DTYPE_NAMES[declared]!;
    rule('dtype', floatDtypes.size === 1 && floatDtypes.has(want), `config dtype ${declared} matches the stored tensors`,
      `config.json says dtype "${declared}" but the tensors are ${[...floatDtypes].join('/')}`);
  }
  return items;
}

/** preprocessor_config.json: what transformers / transformers.js need to feed the model (formats.md §0, §1.4). */
function preprocessorItem(model: HfModel): CheckItem {
  const p = model.preprocessor as unknown as Record<string, unknown>;
  const subject = 'preprocessor';
  if (Object.keys(p).length === 0) return { subject, passed: false, message: 'the folder has no preprocessor_config.json; transformers and transformers.js need it to prepare audio' };
  const problems = preprocessorProblems(p, model.config);
  const wantMask = model.config.feat_extract_norm === 'layer';
  return problems.length
    ? { subject, passed: false, message: `preprocessor_config.json: ${problems.join('; ')}` }
    : { subject, passed: true, message: `preprocessor_config.json: 16 kHz, do_normalize ${String(p['do_normalize'])}, return_attention_mask ${wantMask}` };
}

/**
 * `model.config` is what transformers would use (config.json over the defaults); `rawConfig` is the file as written,
 * held to "every field explicit and well-typed".
 */
export function checkConfig(model: HfModel, rawConfig: Record<string, unknown>): CheckResult {
  const items = [...fieldItems(rawConfig)];
  const usable = items.every((i) => i.passed) || HUBERT_CONFIG_FIELDS.filter((f) => HUBERT_SHAPE_FIELDS.includes(f.name)).every((f) => fieldAccepts(f, model.config[f.name]));
  if (!usable) {
    items.push({ subject: 'weights vs config', passed: false, message: 'not compared: the config fields that decide tensor shapes are missing or invalid (see above)' });
    return checkResult('config', items);
  }
  items.push(preprocessorItem(model));
  const structure = structureItems(model.config);
  items.push(...structure);
  if (structure.every((i) => i.passed)) items.push(...tensorItems(model));
  else items.push({ subject: 'weights vs config', passed: false, message: 'not compared: the config is structurally invalid (see above)' });
  return checkResult('config', items);
}
