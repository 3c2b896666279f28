/**
 * The HuBERT spec against transformers itself: the schema a config implies is exactly the state dict transformers
 * saved for it (names, shapes, dtypes) on every fixture folder; plus the spec's rules, aliases, the layer cut and the
 * byte-level NaN/Inf scan.
 */
import { readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  HUBERT_CONFIG_FIELDS,
  TensorSchema,
  crossFieldViolations,
  fieldViolations,
  hubertPreprocessor,
  legacyWeightNormName,
  preprocessorProblems,
  withHubertDefaults,
} from '../../src/architectures/hubert/index.js';
import { float32ToBFloat16Bits, float32ToFloat16Bits } from '../../src/dtype.js';
import { countNonFinite } from '../../src/non-finite.js';
import { type HfFolder, readHfFolder } from '../../src/readers/hf-folder.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { fixture } from '../helpers/fixtures.js';

const folders: HfFolder[] = [];
afterAll(() => folders.forEach((f) => f.close()));

describe.each(readdirSync(fixture('hf')))('schema of %s', (name) => {
  const folder = readHfFolder(fixture(`hf/${name}`));
  folders.push(folder);
  const { model } = folder;

  it('lists exactly the tensors transformers saved, with their shapes', () => {
    const schema = new TensorSchema(model.config, model.architecture);
    // transformers 5 saves the weight-norm parametrization names; the schema names them the legacy way (its aliases)
    const want = [...folder.storedNames.values()].map(legacyWeightNormName).sort();
    expect(schema.entries.map((e) => schema.fullName(e)).sort()).toEqual(want);
    const match = schema.match([...model.tensors].map(([n, t]) => [n, t]));
    expect(match).toEqual({ missing: [], unexpected: [], wrongShape: [], wrongDtype: [] });
  });

  it('holds the saved config.json and preprocessor to the spec rules', () => {
    expect(fieldViolations(folder.rawConfig)).toEqual([]);
    expect(crossFieldViolations(model.config)).toEqual([]);
    expect(preprocessorProblems(model.preprocessor as unknown as Record<string, unknown>, model.config)).toEqual([]);
    expect(hubertPreprocessor(model.config, model.preprocessor.do_normalize)).toEqual(
      Object.fromEntries(Object.entries(model.preprocessor).filter(([k]) => k !== 'processor_class')),
    );
  });
});

describe('the spec', () => {
  const large = readHfFolder(fixture('hf/fairseq_large_dictconfig'));
  const ctc = readHfFolder(fixture('hf/fairseq_ctc'));
  const base = readHfFolder(fixture('hf/superb_downstream'));
  folders.push(large, ctc, base);

  it('accepts the weight-norm parametrization names as aliases of weight_g / weight_v', () => {
    const schema = new TensorSchema(large.model.config, 'HubertModel');
    const renamed = [...large.model.tensors].map(([n, t]): [string, TensorData] => [n.replace('conv.weight_g', 'conv.parametrizations.weight.original0').replace('conv.weight_v', 'conv.parametrizations.weight.original1'), t]);
    expect(renamed.some(([n]) => n.endsWith('original1'))).toBe(true);
    expect(schema.match(renamed).missing).toEqual([]);
    expect(schema.match(renamed).unexpected).toEqual([]);
  });

  it('prefixes the base model with hubert. in head models, and only there', () => {
    const schema = new TensorSchema(ctc.model.config, 'HubertForCTC');
    const unprefixed = [...ctc.model.tensors].map(([n, t]): [string, TensorData] => [n.replace(/^hubert\./, ''), t]);
    const match = schema.match(unprefixed);
    expect(match.unexpected.map((t) => t.name)).toContain('encoder.layer_norm.weight');
    expect(match.missing.map((e) => schema.fullName(e))).toContain('hubert.encoder.layer_norm.weight');
    expect(match.missing.map((e) => e.name)).not.toContain('lm_head.weight');
  });

  it('describes a graph cut after layer N: earlier layers only, no final LayerNorm for pre-LN, no heads', () => {
    const cut = new TensorSchema(large.model.config, 'HubertModel', { throughLayer: 1 });
    const names = cut.entries.map((e) => e.name);
    expect(names).toContain('encoder.layers.0.attention.q_proj.weight');
    expect(names.some((n) => n.startsWith('encoder.layers.1.'))).toBe(false);
    expect(names).not.toContain('encoder.layer_norm.weight'); // pre-LN: fairseq's output_layer skips it
    expect(base.model.config.do_stable_layer_norm).toBe(false);
    const headCut = new TensorSchema(base.model.config, 'HubertForSequenceClassification', { throughLayer: 2 });
    expect(headCut.entries.some((e) => !e.base)).toBe(false);
    expect(headCut.entries.map((e) => e.name)).toContain('encoder.layer_norm.weight'); // post-LN: applied before the layers
  });

  it('fills transformers\' defaults and names every violated field with its rule', () => {
    expect(withHubertDefaults({ conv_dim: [8, 8] })).toMatchObject({ num_feat_extract_layers: 2, hidden_size: 768, conv_kernel: [10, 3, 3, 3, 3, 2, 2] });
    expect(fieldViolations({ num_hidden_layers: 1e9, hidden_act: 'swishy', layer_norm_eps: 0, conv_dim: [512, 0] })).toEqual([
      { field: 'num_hidden_layers', rule: 'an integer from 1 to 1000', value: 1e9 },
      { field: 'hidden_act', rule: '"gelu" or "gelu_new" or "gelu_pytorch_tanh" or "relu" or "silu" or "swish"', value: 'swishy' },
      { field: 'layer_norm_eps', rule: 'a small positive number', value: 0 },
      { field: 'conv_dim', rule: 'a list of 1 to 64 integers from 1 to 65536', value: [512, 0] },
    ]);
    expect(fieldViolations({}, { requireAll: true })).toHaveLength(HUBERT_CONFIG_FIELDS.length);
    const c = withHubertDefaults({ hidden_size: 32, num_attention_heads: 5, num_conv_pos_embedding_groups: 3, conv_stride: [5] });
    expect(crossFieldViolations(c).map((v) => v.rule)).toEqual([
      'hidden_size divisible by num_attention_heads',
      'hidden_size divisible by num_conv_pos_embedding_groups',
      'one entry per conv layer in each list, and num_feat_extract_layers their length',
    ]);
  });
});

describe('NaN/Inf scan from the bytes', () => {
  const values = [0, 1.5, Number.NaN, -Infinity, 65504, Number.POSITIVE_INFINITY, -0, Number.NaN, 3e-8];
  const cases: Array<[string, MemoryTensor]> = [
    ['F32', MemoryTensor.fromFloat32([values.length], Float32Array.from(values))],
    ['F64', new MemoryTensor('F64', [values.length], new Uint8Array(Float64Array.from(values).buffer))],
    ['F16', new MemoryTensor('F16', [values.length], new Uint8Array(Uint16Array.from(values.map(float32ToFloat16Bits)).buffer))],
    ['BF16', new MemoryTensor('BF16', [values.length], new Uint8Array(Uint16Array.from(values.map(float32ToBFloat16Bits)).buffer))],
  ];
  it.each(cases)('%s: counts NaN and ±Inf, also across chunk boundaries that split an element', (_, t) => {
    expect(countNonFinite(t)).toEqual({ nan: 2, inf: 2, total: values.length });
    // chunks of 3 bytes split every element across two chunks
    const split: TensorData = { dtype: t.dtype, shape: t.shape, byteLength: t.byteLength, bytes: () => t.bytes(), *chunks() {
      for (let i = 0; i < t.byteLength; i += 3) yield t.bytes().subarray(i, i + 3);
    } };
    expect(countNonFinite(split)).toEqual({ nan: 2, inf: 2, total: values.length });
  });

  it('finds nothing in integer tensors and in large finite values', () => {
    expect(countNonFinite(new MemoryTensor('I64', [2], new Uint8Array(16).fill(0xff)))).toEqual({ nan: 0, inf: 0, total: 2 });
    expect(countNonFinite(MemoryTensor.fromFloat32([2], Float32Array.from([3.4e38, -3.4e38])))).toEqual({ nan: 0, inf: 0, total: 2 });
  });
});
