/** Declared graph interface, external data layout, the accuracy helper, and typed errors. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptInputError, UnsupportedModelError, UsageError } from '../../src/errors.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { ONNX_VARIANTS } from '../../src/model.js';
import { buildOnnx } from '../../src/writers/onnx/index.js';
import { measureVariantAccuracy } from '../../src/verify/variant-accuracy.js';
import { FIXTURES, loadGolden, loadHfModel, maxAbsDiff, runGraph } from './helpers.js';
import { decodeFields, initializers, ints, str, sub } from './proto-decode.js';

const out = mkdtempSync(join(tmpdir(), 'onnx-graph-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const fixture = (name: string) => loadHfModel(join(FIXTURES, 'hf', name));

/** name → [elem_type, dims (number or param)] of the graph inputs (field 11) or outputs (field 12). */
function signature(path: string, field: 11 | 12): [string, number, (number | string)[]][] {
  const graph = decodeFields(sub(decodeFields(readFileSync(path)), 7)[0]!);
  return sub(graph, field).map((vi) => {
    const f = decodeFields(vi);
    const tensorType = decodeFields(sub(decodeFields(sub(f, 2)[0]!), 1)[0]!);
    const dims = sub(decodeFields(sub(tensorType, 2)[0]!), 1).map((d) => {
      const df = decodeFields(d);
      return df[0]!.field === 1 ? Number(ints(df, 1)[0]) : str(df, 2)[0]!;
    });
    return [str(f, 1)[0]!, Number(ints(tensorType, 1)[0]), dims];
  });
}

describe('graph interface', () => {
  const FLOAT = 1;
  const INT64 = 7;
  it.each([
    ['fairseq_base_dict', false, 'last_hidden_state'],
    ['fairseq_large_dictconfig', true, 'last_hidden_state'],
    ['fairseq_ctc', true, 'logits'],
    ['superb_downstream', false, 'logits'],
  ] as const)('%s declares exactly its inputs and outputs', async (name, hasMask, output) => {
    const model = fixture(name);
    const c = model.config;
    const dims: (string | number)[] = {
      HubertModel: ['batch_size', 'num_frames', c.hidden_size],
      HubertForCTC: ['batch_size', 'num_frames', c.vocab_size],
      HubertForSequenceClassification: ['batch_size', Object.keys(c.id2label ?? {}).length],
    }[model.architecture];
    const files = await buildOnnx(model, join(out, `io-${name}`), { variants: [...ONNX_VARIANTS] });
    expect(files.map((f) => f.variant)).toEqual(ONNX_VARIANTS);
    for (const f of files) {
      const path = join(out, `io-${name}`, f.file);
      const inputs = [['input_values', FLOAT, ['batch_size', 'sequence_length']]];
      if (hasMask) inputs.push(['attention_mask', INT64, ['batch_size', 'sequence_length']]);
      expect(signature(path, 11)).toEqual(inputs);
      const outputs = signature(path, 12);
      expect(outputs).toEqual([[output, FLOAT, dims]]);
    }
  });

  it('hiddenStates adds hidden_states.0..N after the main output', async () => {
    const model = fixture('fairseq_large_dictconfig');
    const [f] = await buildOnnx(model, join(out, 'hs'), { variants: ['fp32'], hiddenStates: true });
    const names = signature(join(out, 'hs', f!.file), 12).map((o) => o[0]);
    const n = model.config.num_hidden_layers;
    expect(names).toEqual(['last_hidden_state', ...Array.from({ length: n + 1 }, (_, i) => `hidden_states.${i}`)]);
  });
});

describe('input from the HF folder reader', () => {
  it('builds from readHfFolder (weight_g/weight_v names) with the same parity', async () => {
    const folder = readHfFolder(join(FIXTURES, 'hf', 'fairseq_base_dict'));
    try {
      expect(folder.model.tensors.has('encoder.pos_conv_embed.conv.weight_g')).toBe(true);
      const [f] = await buildOnnx(folder.model, join(out, 'reader'), { variants: ['fp32'] });
      const gold = loadGolden(join(FIXTURES, 'golden', 'fairseq_base_dict.safetensors'));
      const y = (await runGraph(join(out, 'reader', f!.file), { input_values: gold.get('input.batch')! })).get('last_hidden_state')!;
      expect(maxAbsDiff(y.data, gold.get('batch.last_hidden_state')!.data as Float32Array)).toBeLessThan(1e-4);
    } finally {
      folder.close();
    }
  });
});

describe('external data', () => {
  it('writes 4096-aligned initializers into model.onnx_data that onnxruntime loads with identical outputs', async () => {
    const model = fixture('fairseq_large_dictconfig');
    const dir = join(out, 'ext');
    const [inline] = await buildOnnx(model, join(out, 'inline'), { variants: ['fp32'] });
    const [ext] = await buildOnnx(model, dir, { variants: ['fp32'], externalData: true });
    expect(inline!.externalData).toBeUndefined();
    expect(ext!.externalData?.file).toBe('onnx/model.onnx_data');
    const modelBytes = readFileSync(join(dir, ext!.file));
    const dataBytes = readFileSync(join(dir, ext!.externalData!.file));
    expect(ext!.bytes).toBe(modelBytes.byteLength);
    expect(ext!.sha256).toBe(createHash('sha256').update(modelBytes).digest('hex'));
    expect(ext!.externalData!.bytes).toBe(statSync(join(dir, ext!.externalData!.file)).size);
    expect(ext!.externalData!.sha256).toBe(createHash('sha256').update(dataBytes).digest('hex'));

    const inlineInits = new Map(initializers(readFileSync(join(out, 'inline', inline!.file))).map((i) => [i.name, i]));
    const extInits = initializers(modelBytes);
    const external = extInits.filter((i) => i.external.location);
    expect(external.length).toBeGreaterThan(10);
    let end = 0;
    for (const i of extInits) {
      const inl = inlineInits.get(i.name)!;
      if (inl.raw < 1024) {
        expect(i.external, i.name).toEqual({});
        continue;
      }
      expect(i.external.location).toBe('model.onnx_data');
      const offset = Number(i.external.offset);
      const length = Number(i.external.length);
      expect(offset % 4096, `${i.name} offset ${offset}`).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(end);
      expect(length).toBe(inl.raw);
      expect(i.raw).toBe(-1);
      end = offset + length;
    }
    expect(dataBytes.byteLength).toBe(end);

    const gold = loadGolden(join(FIXTURES, 'golden', 'fairseq_large_dictconfig.safetensors'));
    const feeds = { input_values: gold.get('input.batch')!, attention_mask: gold.get('input.batch_mask')! };
    const a = await runGraph(join(out, 'inline', inline!.file), feeds);
    const b = await runGraph(join(dir, ext!.file), feeds);
    expect(maxAbsDiff(a.get('last_hidden_state')!.data, b.get('last_hidden_state')!.data)).toBe(0);
  });
});

describe('measureVariantAccuracy', () => {
  it('reports each variant against fp32 on a deterministic input', async () => {
    const dir = join(out, 'acc');
    const files = await buildOnnx(fixture('fairseq_ctc'), dir, { variants: ['fp32', 'fp16', 'q8'] });
    const acc = await measureVariantAccuracy(dir, files.map((f) => f.variant));
    expect(acc.map((a) => [a.variant, a.output, a.reference])).toEqual([['fp32', 'logits', 'onnx/model.onnx'], ['fp16', 'logits', 'onnx/model.onnx'], ['q8', 'logits', 'onnx/model.onnx']]);
    expect(acc[0]).toMatchObject({ maxAbs: 0, maxRel: 0 });
    expect(acc[0]!.cosine).toBeCloseTo(1, 12);
    expect(acc[1]!.cosine).toBeGreaterThan(0.999);
    expect(acc[1]!.maxAbs).toBeGreaterThan(0);
    expect(acc[2]!.cosine).toBeGreaterThan(0.99);
    expect(acc[2]!.relativeL2).toBeLessThan(0.1);
  });
});

describe('measureVariantAccuracy without the fp32 variant', () => {
  it('compares with a scratch fp32 graph that it removes again, with the same figures as against a published one', async () => {
    const model = fixture('fairseq_ctc');
    const withFp32 = join(out, 'acc-with');
    const alone = join(out, 'acc-alone');
    await buildOnnx(model, withFp32, { variants: ['fp32', 'q4'] });
    await buildOnnx(model, alone, { variants: ['q4'] });
    // the model's feature extractor defines the input (verify's `single`), so both calls are given it
    const [, published] = await measureVariantAccuracy(withFp32, ['fp32', 'q4'], { model });
    const [scratch] = await measureVariantAccuracy(alone, ['q4'], { model });
    expect(scratch).toEqual({ ...published, reference: 'fp32 graph built for this measurement (not published)' });
    expect(scratch!.cosine).toBeLessThan(1);
    expect(readdirSync(alone).sort()).toEqual(['onnx']);
    expect(readdirSync(join(alone, 'onnx'))).toEqual(['model_q4.onnx']);
  });

  it('without the model to build it from, says what it needs', async () => {
    const dir = join(out, 'acc-alone-err');
    await buildOnnx(fixture('fairseq_ctc'), dir, { variants: ['fp16'] });
    const err = await measureVariantAccuracy(dir, ['fp16']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'E_ACCURACY_REFERENCE' });
  });
});

describe('errors', () => {
  it('names a missing tensor', async () => {
    const model = fixture('fairseq_base_dict');
    model.tensors.delete('encoder.layers.1.attention.k_proj.weight');
    const err = await buildOnnx(model, join(out, 'err'), { variants: ['fp32'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptInputError);
    expect(err).toMatchObject({ kind: 'corrupt', code: 'E_ONNX_MISSING_TENSOR', message: 'tensor encoder.layers.1.attention.k_proj.weight is missing from the model; the ONNX graph needs it (is the config consistent with the weights?)' });
  });
  it('rejects an unknown variant', async () => {
    const err = await buildOnnx(fixture('fairseq_base_dict'), join(out, 'err'), { variants: ['int4' as 'int8'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'E_ONNX_VARIANT', message: 'unknown ONNX variant "int4" (use fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4)' });
  });
  it('rejects an activation it cannot express', async () => {
    const model = fixture('fairseq_base_dict');
    model.config.hidden_act = 'quick_gelu';
    const err = await buildOnnx(model, join(out, 'err'), { variants: ['fp32'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect(err).toMatchObject({ code: 'E_ONNX_ACTIVATION', message: 'activation "quick_gelu" is not supported by the ONNX exporter (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu)' });
  });
  it('rejects a weight whose shape disagrees with the config', async () => {
    const model = fixture('fairseq_base_dict');
    model.config.conv_kernel = [9, 3, 3, 3, 3, 2, 2];
    const err = await buildOnnx(model, join(out, 'err'), { variants: ['fp32'] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'corrupt', code: 'E_ONNX_TENSOR_SHAPE', message: 'tensor feature_extractor.conv_layers.0.conv.weight has shape [16, 1, 10] but the config implies [16, 1, 9]' });
  });
});
