/**
 * The HuBERT family as people hold it (issue 12, sources): ContentVec legacy and non-legacy, bshall's hubert-soft and
 * hubert-discrete. Each fixture (made by the projects' own code, fixtures/FAMILY.md) converts to exactly the HF folder
 * the generator's independent Python mapping wrote, keeps its projection head beside the model, and the folder, run
 * through the float64 reference, gives the transformers goldens and the original code's own outputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { detectSource, toHuggingFace } from '../../src/mappings/index.js';
import type { Conversion } from '../../src/mappings/types.js';
import type { HfModel } from '../../src/model.js';
import { type Checkpoint, readCheckpoint } from '../../src/readers/index.js';
import { LazyTensor } from '../../src/readers/lazy-tensor.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { toFloat32 } from '../../src/tensor.js';
import { referenceForward } from '../../src/verify/reference/forward.js';
import { fixture, readJsonFixture, sha256 } from '../helpers/fixtures.js';
import { type GoldenTensor, loadGolden, maxAbsDiff } from '../helpers/golden.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-family-'));
const opened: Checkpoint[] = [];
afterAll(() => {
  opened.forEach((c) => c.close());
  rmSync(work, { recursive: true, force: true });
});

function open(file: string): Checkpoint {
  const c = readCheckpoint(fixture(`checkpoints/${file}`));
  opened.push(c);
  return c;
}

/** The tiny fixtures have 4 heads (fixtures/gen/family_common.py HEADS); bshall's files do not record them. */
const TINY_HEADS = 4;
const SAVE_ONLY_FIELDS = new Set(['transformers_version', 'dtype', 'torch_dtype']);
/** transformers vs the original code is ≤ 3e-6 here (fixtures/README.md); the float64 reference is held to the 1e-4 of the other goldens. */
const ATOL = 1e-4;

function floats(golden: Map<string, GoldenTensor>, key: string): { data: Float32Array; shape: readonly number[] } {
  const t = golden.get(key);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`golden has no float tensor ${key}`);
  return { data: t.data, shape: t.shape };
}

/** [rows, in] × [in] + bias per frame: a Linear head over a [B, T, in] activation, in float64. */
function applyHead(x: { data: ArrayLike<number>; shape: readonly number[] }, weight: Float32Array, bias: Float32Array): Float64Array {
  const inF = x.shape[2]!;
  const outF = bias.length;
  const frames = x.data.length / inF;
  const out = new Float64Array(frames * outF);
  for (let f = 0; f < frames; f++) {
    for (let o = 0; o < outF; o++) {
      let s = bias[o]!;
      for (let i = 0; i < inF; i++) s += weight[o * inF + i]! * x.data[f * inF + i]!;
      out[f * outF + o] = s;
    }
  }
  return out;
}

/** The 40 zero samples bshall's units() puts on each side, per row. */
function padRows(input: { data: Float32Array; shape: readonly number[] }, pad: number): { data: Float32Array; batch: number; length: number } {
  const [batch, length] = input.shape as [number, number];
  const out = new Float32Array(batch * (length + 2 * pad));
  for (let b = 0; b < batch; b++) out.set(input.data.subarray(b * length, (b + 1) * length), b * (length + 2 * pad) + pad);
  return { data: out, batch, length: length + 2 * pad };
}

const EXPECTED = [
  { name: 'contentvec_legacy', file: 'contentvec_legacy.pt', kind: 'contentvec-legacy', projection: 'final_proj', options: {} },
  { name: 'hubert_soft', file: 'hubert_soft.pt', kind: 'hubert-soft', projection: 'proj', options: { attentionHeads: TINY_HEADS } },
] as const;

describe.each(EXPECTED)('$name converts to fixtures/hf/$name exactly', (f) => {
  const conversion = toHuggingFace(open(f.file), f.options);
  const truth = readHfFolder(fixture(`hf/${f.name}`));
  afterAll(() => truth.close());

  it('is detected as its kind', () => {
    expect(conversion.kind).toBe(f.kind);
  });

  it('derives the config and preprocessor config transformers saved', () => {
    const expected = Object.fromEntries(Object.entries(readJsonFixture(`hf/${f.name}/config.json`)).filter(([k]) => !SAVE_ONLY_FIELDS.has(k)));
    expect(conversion.model.config).toEqual(expected);
    expect(conversion.model.preprocessor).toEqual(readJsonFixture(`hf/${f.name}/preprocessor_config.json`));
  });

  it('maps every tensor to the HF name and bytes of the reference model', () => {
    const ours = conversion.model.tensors;
    expect([...ours.keys()].sort()).toEqual([...truth.model.tensors.keys()].sort());
    for (const [name, tensor] of truth.model.tensors) {
      const mine = ours.get(name)!;
      expect({ name, dtype: mine.dtype, shape: mine.shape }).toEqual({ name, dtype: tensor.dtype, shape: tensor.shape });
      expect(sha256(mine.bytes()), name).toBe(sha256(tensor.bytes()));
    }
  });

  it(`keeps ${f.projection} as the projection head, equal to the reference folder's ${f.projection}.safetensors`, () => {
    const mine = conversion.model.projection!;
    const theirs = truth.model.projection!;
    expect(mine.name).toBe(f.projection);
    expect(theirs.name).toBe(f.projection);
    for (const part of ['weight', 'bias'] as const) {
      expect(mine[part].shape).toEqual(theirs[part].shape);
      expect(sha256(mine[part].bytes())).toBe(sha256(theirs[part].bytes()));
    }
    const mapped = conversion.mapped.filter((m) => m.target.startsWith(`${f.projection}.`)).map((m) => m.target);
    expect(mapped.sort()).toEqual([`${f.projection}.bias`, `${f.projection}.weight`]);
  });

  it('accounts for every source tensor: mapped (a fused one to several targets), or dropped with a reason', () => {
    const mapped = new Set(conversion.mapped.map((m) => m.source));
    const dropped = conversion.dropped.map((d) => d.source);
    expect(dropped.filter((d) => mapped.has(d))).toEqual([]);
    const dict = f.name === 'hubert_soft' ? '' : 'model/';
    const all = opened.find((c) => c.file.endsWith(f.file))!.tensors.map((t) => t.path).filter((p) => p.startsWith(dict));
    expect(new Set([...mapped, ...dropped])).toEqual(new Set(all));
    for (const d of conversion.dropped) expect(d.reason.length).toBeGreaterThan(20);
  });
});

describe('hubert-soft specifics', () => {
  const c = open('hubert_soft.pt');
  const conversion = toHuggingFace(c, { attentionHeads: TINY_HEADS });

  it('splits in_proj_weight/in_proj_bias into q, k, v as views of the same storage bytes, rows [q; k; v]', () => {
    const fused = c.tensors.find((t) => t.path === 'module.encoder.layers.3.self_attn.in_proj_weight')!.tensor as LazyTensor;
    const bias = c.tensors.find((t) => t.path === 'module.encoder.layers.3.self_attn.in_proj_bias')!.tensor as LazyTensor;
    const all = fused.bytes();
    const allBias = bias.bytes();
    const rowBytes = 16 * 4;
    ['q', 'k', 'v'].forEach((x, i) => {
      const w = conversion.model.tensors.get(`encoder.layers.3.attention.${x}_proj.weight`) as LazyTensor;
      const b = conversion.model.tensors.get(`encoder.layers.3.attention.${x}_proj.bias`) as LazyTensor;
      expect(w).toBeInstanceOf(LazyTensor);
      expect(w.storage).toBe(fused.storage);
      expect(b.storage).toBe(bias.storage);
      expect([w.shape, w.storageOffset]).toEqual([[16, 16], fused.storageOffset + i * 16 * 16]);
      expect([b.shape, b.storageOffset]).toEqual([[16], bias.storageOffset + i * 16]);
      expect(Buffer.from(w.bytes()).equals(Buffer.from(all.subarray(i * 16 * rowBytes, (i + 1) * 16 * rowBytes)))).toBe(true);
      expect(Buffer.from(b.bytes()).equals(Buffer.from(allBias.subarray(i * 64, (i + 1) * 64)))).toBe(true);
    });
    const rows = conversion.mapped.filter((m) => m.source === 'module.encoder.layers.3.self_attn.in_proj_weight').map((m) => [m.target, m.rows]);
    expect(rows).toEqual([
      ['encoder.layers.3.attention.q_proj.weight', [0, 16]],
      ['encoder.layers.3.attention.k_proj.weight', [16, 32]],
      ['encoder.layers.3.attention.v_proj.weight', [32, 48]],
    ]);
  });

  it("records bshall's 40-sample padding and drops label_embedding with its reason", () => {
    expect(conversion.model.inputPadding).toBe(40);
    expect(conversion.model.unitLayer).toBeUndefined();
    expect(conversion.dropped).toEqual([{ source: 'module.label_embedding.weight', reason: expect.stringMatching(/training loss.*not part of the encoder/) }]);
  });

  it('needs --heads for a width bshall never released (its state dict records no head count)', () => {
    expect(() => toHuggingFace(c)).toThrow(expect.objectContaining({ code: 'E_NEEDS_HEADS', exitCode: 2, message: expect.stringMatching(/hubert_soft\.pt: a bshall\/hubert state dict does not record its attention heads;.*16 wide\. Pass the head count it was built with: --heads <n>$/) }));
  });

  it("reproduces bshall's own units() and encode(layer=n) on the padded input (upstream golden)", () => {
    const golden = loadGolden('hubert_soft.upstream');
    const inputs = loadGolden('inputs');
    const w = toFloat32(conversion.model.projection!.weight);
    const b = toFloat32(conversion.model.projection!.bias);
    for (const run of ['single', 'batch']) {
      const padded = padRows(floats(inputs, `input.${run}`), conversion.model.inputPadding!);
      const out = referenceForward(conversion.model, { inputValues: padded.data, batch: padded.batch, length: padded.length }, { hiddenStates: true });
      for (let n = 1; n <= 8; n++) {
        const want = floats(golden, `${run}.layer.${n}`);
        expect(out[`hidden_states.${n}`]!.shape).toEqual([...want.shape]);
        expect(maxAbsDiff(out[`hidden_states.${n}`]!.data, want.data), `${run} layer ${n}`).toBeLessThan(ATOL);
      }
      const units = floats(golden, `${run}.units`);
      expect(units.shape).toEqual([padded.batch, 50, 8]);
      expect(maxAbsDiff(applyHead(out['last_hidden_state']!, w, b), units.data), `${run} units`).toBeLessThan(ATOL);
    }
  });
});

describe("bshall's train.py checkpoint (hubert_soft_train.pt)", () => {
  const conversion = toHuggingFace(open('hubert_soft_train.pt'), { attentionHeads: TINY_HEADS });

  it('takes the state dict under "hubert", the parametrizations naming of the positional conv, and ignores the trainer state', () => {
    expect(conversion.kind).toBe('hubert-soft');
    expect(conversion.model.config.num_hidden_layers).toBe(2);
    const pos = conversion.mapped.filter((m) => m.target.startsWith('encoder.pos_conv_embed.conv.weight_')).map((m) => [m.source, m.target]);
    expect(pos.sort()).toEqual([
      ['hubert/module.positional_embedding.conv.parametrizations.weight.original0', 'encoder.pos_conv_embed.conv.weight_g'],
      ['hubert/module.positional_embedding.conv.parametrizations.weight.original1', 'encoder.pos_conv_embed.conv.weight_v'],
    ]);
    expect(conversion.mapped.some((m) => m.source.startsWith('optimizer/'))).toBe(false);
  });

  it("gives bshall HEAD's units() on the trained weights (upstream golden)", () => {
    const golden = loadGolden('hubert_soft_train.upstream');
    const padded = padRows(floats(loadGolden('inputs'), 'input.batch'), 40);
    const out = referenceForward(conversion.model, { inputValues: padded.data, batch: padded.batch, length: padded.length }, { hiddenStates: true });
    for (const n of [1, 2]) expect(maxAbsDiff(out[`hidden_states.${n}`]!.data, floats(golden, `batch.layer.${n}`).data)).toBeLessThan(ATOL);
    const p = conversion.model.projection!;
    expect(maxAbsDiff(applyHead(out['last_hidden_state']!, toFloat32(p.weight), toFloat32(p.bias)), floats(golden, 'batch.units').data)).toBeLessThan(ATOL);
  });
});

describe('hubert-discrete', () => {
  const conversion = toHuggingFace(open('hubert_discrete.pt'), { attentionHeads: TINY_HEADS });

  it('is the same encoder without a projection head: proj and label_embedding dropped by rule, unit layer 7, padding 40', () => {
    expect(conversion.kind).toBe('hubert-discrete');
    expect(conversion.model.projection).toBeUndefined();
    expect(conversion.model.unitLayer).toBe(7);
    expect(conversion.model.inputPadding).toBe(40);
    expect(conversion.dropped.map((d) => d.source)).toEqual(['hubert/module.proj.weight', 'hubert/module.proj.bias', 'hubert/module.label_embedding.weight']);
    expect(conversion.dropped[0]!.reason).toMatch(/units\(\) quantises layer 7's output with k-means and never applies proj/);
    expect(conversion.model.config.num_hidden_layers).toBe(8);
  });

  it("layer 7 of the padded input, quantised by bshall's k-means, gives HubertDiscrete.units() exactly", () => {
    const golden = loadGolden('hubert_discrete.upstream');
    const km = open('hubert_discrete_kmeans.pt');
    const centres = toFloat32(km.tensors.find((t) => t.path === 'cluster_centers_')!.tensor);
    for (const run of ['single', 'batch']) {
      const padded = padRows(floats(loadGolden('inputs'), `input.${run}`), conversion.model.unitLayer === 7 ? 40 : 0);
      const out = referenceForward(conversion.model, { inputValues: padded.data, batch: padded.batch, length: padded.length }, { hiddenStates: true });
      const layer = out[`hidden_states.${conversion.model.unitLayer}`]!;
      expect(maxAbsDiff(layer.data, floats(golden, `${run}.layer.7`).data)).toBeLessThan(ATOL);
      const want = golden.get(`${run}.units`)!.data as BigInt64Array;
      const dim = 16;
      const units = Array.from({ length: layer.data.length / dim }, (_, f) => {
        let best = 0;
        let bestD = Infinity;
        for (let k = 0; k < centres.length / dim; k++) {
          let d = 0;
          for (let i = 0; i < dim; i++) d += (layer.data[f * dim + i]! - centres[k * dim + i]!) ** 2;
          if (d < bestD) [best, bestD] = [k, d];
        }
        return BigInt(best);
      });
      expect(units).toEqual([...want]);
    }
  });
});

describe('ContentVec non-legacy', () => {
  const conversion = toHuggingFace(open('contentvec.pt'));
  const legacy = toHuggingFace(open('contentvec_legacy.pt'));

  it('converts to the legacy file exactly: same config, same encoder tensors and final_proj bit for bit', () => {
    expect(conversion.kind).toBe('contentvec');
    expect(conversion.model.config).toEqual(legacy.model.config);
    expect(conversion.model.preprocessor).toEqual(legacy.model.preprocessor);
    expect([...conversion.model.tensors.keys()]).toEqual([...legacy.model.tensors.keys()]);
    for (const [name, t] of legacy.model.tensors) expect(sha256(conversion.model.tensors.get(name)!.bytes()), name).toBe(sha256(t.bytes()));
    for (const part of ['weight', 'bias'] as const) expect(sha256(conversion.model.projection![part].bytes())).toBe(sha256(legacy.model.projection![part].bytes()));
  });

  it('drops the speaker-conditioned layers, their LayerNorm and the contrastive head by named rules', () => {
    const dropped = new Map(conversion.dropped.map((d) => [d.source, d.reason]));
    const conditioned = [...dropped.keys()].filter((k) => /^model\/encoder\.layers\.[45]\./.test(k));
    expect(conditioned).toHaveLength(32);
    for (const k of conditioned) expect(dropped.get(k)).toMatch(/^a speaker-conditioned layer .*needs no speaker embedding/);
    expect(dropped.get('model/encoder.cond_layer_norm.weight_ln.weight')).toMatch(/speaker-conditioned LayerNorm after the conditioned layers/);
    expect(dropped.get('model/layer_proj.weight')).toMatch(/contrastive-loss projection/);
    expect(dropped.get('model/label_embs_concat')).toMatch(/pretraining target embeddings/);
    expect(dropped.size).toBe(37);
    expect(conversion.warnings).toEqual(["2 speaker-conditioned layer(s) (encoder.layers.4, 5) dropped: the model is ContentVec's 4-layer inference encoder, as the legacy checkpoint holds it"]);
  });

  it("gives the contentvec fork's extract_features per layer and final_proj at layers 3 and 4 (upstream golden)", () => {
    const golden = loadGolden('contentvec.upstream');
    const input = floats(loadGolden('inputs'), 'input.batch');
    const out = referenceForward(conversion.model, { inputValues: input.data, batch: 2, length: 16000 }, { hiddenStates: true });
    for (let n = 1; n <= 4; n++) expect(maxAbsDiff(out[`hidden_states.${n}`]!.data, floats(golden, `batch.layer.${n}`).data), `layer ${n}`).toBeLessThan(ATOL);
    const p = conversion.model.projection!;
    for (const n of [3, 4]) {
      expect(maxAbsDiff(applyHead(out[`hidden_states.${n}`]!, toFloat32(p.weight), toFloat32(p.bias)), floats(golden, `batch.final_proj.${n}`).data), `final_proj ${n}`).toBeLessThan(ATOL);
    }
  });
});

describe('the written folder, and the folder read back', () => {
  let n = 0;
  async function written(file: string, options: { attentionHeads?: number } = {}): Promise<string> {
    const out = join(work, `${n++}-${file.replace(/\.pt$/, '')}`);
    await convert(fixture(`checkpoints/${file}`), { out, ...options });
    return out;
  }

  it.each([
    ['contentvec_legacy.pt', 'final_proj', {}],
    ['hubert_soft.pt', 'proj', { attentionHeads: TINY_HEADS }],
  ] as const)('%s: <name>.safetensors byte-identical to the reference folder, in the report and the model card', async (file, name, options) => {
    const out = await written(file, options);
    const expected = fixture(`hf/${file.replace(/\.pt$/, '')}/${name}.safetensors`);
    expect(sha256(readFileSync(join(out, `${name}.safetensors`)))).toBe(sha256(readFileSync(expected)));
    const report = JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8')) as { files: Array<{ path: string; bytes: number; sha256: string }> };
    const record = report.files.find((f) => f.path === `${name}.safetensors`)!;
    expect(record).toEqual({ path: `${name}.safetensors`, bytes: readFileSync(expected).byteLength, sha256: sha256(readFileSync(expected)) });
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toContain(`| \`${name}.safetensors\` |`);
    expect(card).toMatch(new RegExp(`## Beyond HubertModel\\n\\n- \`${name}\\.safetensors\` holds the projection head \`${name}\` \\(a Linear 16 → 8`));
  });

  it('records the padding (and the unit layer) in config.json; reading the folder back gives the same HfModel', async () => {
    for (const [file, options] of [['hubert_soft.pt', { attentionHeads: TINY_HEADS }], ['hubert_discrete.pt', { attentionHeads: TINY_HEADS }], ['contentvec.pt', {}]] as const) {
      const out = await written(file, options);
      const conversion: Conversion = toHuggingFace(open(file), options);
      const raw = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
      expect(raw['hubert_convert_input_padding']).toBe(conversion.model.inputPadding);
      expect(raw['hubert_convert_unit_layer']).toBe(conversion.model.unitLayer);
      const back = readHfFolder(out);
      const model: HfModel = back.model;
      expect(model.inputPadding).toBe(conversion.model.inputPadding);
      expect(model.unitLayer).toBe(conversion.model.unitLayer);
      expect({ ...model.config, dtype: undefined }).toEqual({ ...conversion.model.config, dtype: undefined });
      expect(model.projection?.name).toBe(conversion.model.projection?.name);
      if (conversion.model.projection) {
        for (const part of ['weight', 'bias'] as const) expect(sha256(model.projection![part].bytes())).toBe(sha256(conversion.model.projection[part].bytes()));
        expect(back.weightFiles).toContain(`${conversion.model.projection.name}.safetensors`);
      }
      back.close();
    }
  });

  it('convert <folder> carries the projection head and the padding into the new folder; verify checks the head against the source', async () => {
    const first = await written('hubert_soft.pt', { attentionHeads: TINY_HEADS });
    const second = join(work, 'from-folder');
    const { report } = await convert(first, { out: second });
    expect(report.files.map((f) => f.path)).toContain('proj.safetensors');
    expect(report.mapped.filter((m) => m.target.startsWith('proj.')).map((m) => [m.source, m.target])).toEqual([
      ['proj.safetensors:proj.weight', 'proj.weight'],
      ['proj.safetensors:proj.bias', 'proj.bias'],
    ]);
    expect(sha256(readFileSync(join(second, 'proj.safetensors')))).toBe(sha256(readFileSync(join(first, 'proj.safetensors'))));
    expect(JSON.parse(readFileSync(join(second, 'config.json'), 'utf8'))['hubert_convert_input_padding']).toBe(40);
    const { verify } = await import('../../src/verify/index.js');
    const result = await verify(first, { source: fixture('checkpoints/hubert_soft.pt') });
    const weights = result.checks.find((c) => c.name === 'weights')!;
    expect(weights.passed).toBe(true);
    // 147 model tensors + proj.weight and proj.bias
    expect(weights.items[0]!.message).toBe('149 of 149 folder tensors equal the source bit for bit');
  });
});

describe('detection', () => {
  const evidence: Record<string, [string, string]> = {
    'contentvec.pt': ['contentvec', 'cfg.model._name is "contentvec"'],
    'contentvec_legacy.pt': ['contentvec-legacy', "cfg.model._name is \"hubert\", and cfg.model has ContentVec's encoder_layers_1 (a ContentVec model converted to the legacy HuBERT format)"],
    'hubert_soft.pt': ['hubert-soft', 'its state dict has bshall/hubert keys (module.feature_extractor.conv0.weight, module.encoder.layers.0.self_attn.in_proj_weight: torch TransformerEncoderLayers in a HuBERT)'],
    'hubert_soft_train.pt': ['hubert-soft', 'its state dict has bshall/hubert keys (module.feature_extractor.conv0.weight, module.encoder.layers.0.self_attn.in_proj_weight: torch TransformerEncoderLayers in a HuBERT)'],
    'hubert_discrete.pt': [
      'hubert-discrete',
      'its state dict has bshall/hubert keys (module.feature_extractor.conv0.weight, module.encoder.layers.0.self_attn.in_proj_weight: torch TransformerEncoderLayers in a HuBERT), and label_embedding has 504 rows (HubertDiscrete)',
    ],
  };
  it.each(Object.entries(evidence))('%s is %s, with its evidence', (file, [kind, why]) => {
    const c = open(file);
    expect(detectSource(c.root, c.file)).toEqual({ kind, evidence: why });
  });

  it('ContentVec is no longer refused: by its conditioned LayerNorms alone it is ContentVec, not an unknown HuBERT', () => {
    const c = readCheckpoint(fixture('checkpoints/contentvec.pt'));
    ((c.root as Map<string, Map<string, unknown>>).get('cfg')!.get('model') as Map<string, unknown>).set('_name', 'hubert');
    expect(detectSource(c.root, c.file)).toEqual({ kind: 'contentvec', evidence: 'its state dict has speaker-conditioned LayerNorms (encoder.layers.4.self_attn_layer_norm.weight_ln.weight)' });
    c.close();
  });

  it('a plain fairseq HuBERT stays fairseq-hubert, and keeps its final_proj as the projection head', () => {
    const c = open('fairseq_base_dict.pt');
    expect(detectSource(c.root, c.file).kind).toBe('fairseq-hubert');
    const conversion = toHuggingFace(c);
    expect(conversion.model.projection?.name).toBe('final_proj');
    expect(conversion.model.projection?.weight.shape).toEqual([16, 32]);
    expect(conversion.dropped.map((d) => d.source)).toEqual(['model/label_embs_concat']);
  });
});
