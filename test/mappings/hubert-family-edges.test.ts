/**
 * The HuBERT family's edges: what `inspect` says a file offers, the reference forward on written folders against the
 * transformers goldens, and every bad input (a broken projection head, a damaged folder) as a typed error.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { toHuggingFace } from '../../src/mappings/index.js';
import { inspectCheckpoint } from '../../src/inspect.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { MemoryTensor } from '../../src/tensor.js';
import { validateConversion } from '../../src/validate.js';
import { referenceForward } from '../../src/verify/reference/forward.js';
import { writeSafetensors } from '../../src/writers/disk-safetensors.js';
import { cli } from '../helpers/cli.js';
import { fixture } from '../helpers/fixtures.js';
import { type GoldenTensor, loadGolden, maxAbsDiff } from '../helpers/golden.js';
import { errorCode } from '../helpers/sandbox.js';
import { torchSave } from '../helpers/torch-save.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-family-edges-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (name: string) => join(work, `${n++}-${name}`);

function floats(golden: Map<string, GoldenTensor>, key: string): Float32Array {
  const t = golden.get(key);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`golden has no float tensor ${key}`);
  return t.data;
}

describe('inspect: what a file offers', () => {
  const CONTENTVEC_PROFILES = [
    { profile: 'rvc', uses: 'v1: layer 9 + final_proj; v2: layer 12' },
    { profile: 'so-vits', variant: 'vec256l9', uses: 'layer 9 + final_proj' },
    { profile: 'so-vits', variant: 'vec768l12', uses: 'layer 12' },
  ];
  it.each([
    ['contentvec.pt', 'contentvec', { layers: 4, heads: 4, hiddenSize: 16, projection: { name: 'final_proj', inFeatures: 16, outFeatures: 8 }, inputPadding: null, unitLayer: null, profiles: CONTENTVEC_PROFILES }],
    ['contentvec_legacy.pt', 'contentvec-legacy', { layers: 4, heads: 4, hiddenSize: 16, projection: { name: 'final_proj', inFeatures: 16, outFeatures: 8 }, inputPadding: null, unitLayer: null, profiles: CONTENTVEC_PROFILES }],
    ['hubert_soft.pt', 'hubert-soft', {
      layers: 8, heads: null, hiddenSize: 16, projection: { name: 'proj', inFeatures: 16, outFeatures: 8 }, inputPadding: 40, unitLayer: null,
      profiles: [{ profile: 'so-vits', variant: 'hubert-soft', uses: 'units(): 40 samples of padding each side, every layer, then proj' }],
    }],
    ['hubert_discrete.pt', 'hubert-discrete', { layers: 8, heads: null, hiddenSize: 16, projection: null, inputPadding: 40, unitLayer: 7, profiles: [] }],
    ['fairseq_base_dict.pt', 'fairseq-hubert', { layers: 2, heads: 4, hiddenSize: 32, projection: { name: 'final_proj', inFeatures: 32, outFeatures: 16 }, inputPadding: null, unitLayer: null, profiles: [] }],
  ] as const)('%s (%s)', (file, kind, offers) => {
    const r = inspectCheckpoint(fixture(`checkpoints/${file}`));
    expect(r.kind).toBe(kind);
    expect(r.offers).toEqual(offers);
    expect(r.quantizer).toBeNull();
    if (offers.heads === null) {
      expect(r.hfConfig).toBeNull();
      expect(r.warnings).toContainEqual(expect.stringMatching(/^would not convert without --heads: .*does not record its attention heads/));
    }
  });

  it('--heads completes a bshall model: the head count and the derived config', () => {
    const r = inspectCheckpoint(fixture('checkpoints/hubert_soft.pt'), { attentionHeads: 4 });
    expect(r.offers?.heads).toBe(4);
    expect(r.hfConfig?.num_attention_heads).toBe(4);
    expect(r.warnings).toEqual([]);
  });

  it("a bshall k-means dict is a quantizer, with its clusters and dimension", () => {
    const r = inspectCheckpoint(fixture('checkpoints/hubert_discrete_kmeans.pt'));
    expect(r.kind).toBeNull();
    expect(r.offers).toBeNull();
    expect(r.quantizer).toEqual({ format: 'bshall-torch', estimator: 'KMeans (cluster_centers_)', clusters: 10, dim: 16 });
    expect(r.evidence).toBe("a k-means quantizer: KMeans (cluster_centers_), bshall/hubert's torch-saved k-means dict, 10 clusters of dimension 16");
  });

  it("fairseq learn_kmeans.py's joblib file is a quantizer by its first bytes, its pickle never read", () => {
    const r = inspectCheckpoint(fixture('checkpoints/contentvec_legacy_L3_km10.bin'));
    expect(r).toMatchObject({ kind: null, format: 'pickle (joblib)', tensors: [], globals: [], offers: null, quantizer: { format: 'sklearn-joblib', estimator: 'MiniBatchKMeans' } });
    expect(r.evidence).toBe('a k-means quantizer: MiniBatchKMeans, scikit-learn, saved with joblib.dump (fairseq learn_kmeans.py)');
  });

  it('the CLI prints the offers and the profiles, and exits 0 on a quantizer', () => {
    const cv = cli(['inspect', fixture('checkpoints/contentvec.pt')]);
    expect(cv.status).toBe(0);
    expect(cv.stdout).toContain('Offers: 4 layers, 4 heads, hidden 16, projection head final_proj (16 → 8)\n');
    expect(cv.stdout).toContain('Profiles: --profile rvc (v1: layer 9 + final_proj; v2: layer 12); --profile so-vits vec256l9 (layer 9 + final_proj); --profile so-vits vec768l12 (layer 12)\n');
    const soft = cli(['inspect', fixture('checkpoints/hubert_soft.pt'), '--heads', '4']);
    expect(soft.stdout).toContain('Offers: 8 layers, 4 heads, hidden 16, projection head proj (16 → 8), input padding 40 samples each side\n');
    const km = cli(['inspect', fixture('checkpoints/contentvec_legacy_L3_km10.bin')]);
    expect(km.status).toBe(0);
    expect(km.stdout).toContain('Quantizer: k-means quantizer (sklearn-joblib)\n');
    const json = JSON.parse(cli(['inspect', fixture('checkpoints/hubert_discrete.pt'), '--json']).stdout) as { offers: { unitLayer: number } };
    expect(json.offers.unitLayer).toBe(7);
  });
});

describe('the reference forward on converted folders vs the transformers goldens', () => {
  it.each([
    ['contentvec_legacy', {}],
    ['hubert_soft', { attentionHeads: 4 }],
  ] as const)('%s: every hidden state, single and batch (unpadded, as transformers was fed)', async (name, options) => {
    const out = fresh(name);
    await convert(fixture(`checkpoints/${name}.pt`), { out, ...options });
    const folder = readHfFolder(out);
    const golden = loadGolden(name);
    for (const [run, batch] of [['single', 1], ['batch', 2]] as const) {
      const result = referenceForward(folder.model, { inputValues: floats(golden, `input.${run}`), batch, length: 16000 }, { hiddenStates: true });
      const keys = [...golden.keys()].filter((k) => k.startsWith(`${run}.`));
      expect(keys.length).toBe(folder.model.config.num_hidden_layers + 2);
      for (const key of keys) expect(maxAbsDiff(result[key.slice(run.length + 1)]!.data, floats(golden, key)), key).toBeLessThan(1e-4);
    }
    folder.close();
  });
});

describe('bad inputs', () => {
  it('a projection head that does not fit the model is refused before anything is written (E_TENSOR_SHAPE)', () => {
    const c = readCheckpoint(fixture('checkpoints/contentvec_legacy.pt'));
    const conversion = toHuggingFace(c);
    conversion.model.projection = { ...conversion.model.projection!, weight: new MemoryTensor('F32', [8, 12], new Uint8Array(8 * 12 * 4)) };
    expect(() => validateConversion(conversion, 'x.pt')).toThrow(
      expect.objectContaining({ code: 'E_TENSOR_SHAPE', exitCode: 4, message: 'x.pt: the projection head does not fit the model — final_proj.weight is [8, 12], needs [out, 16] (a Linear from the hidden size) (from model/final_proj.weight). The file is damaged or edited, so nothing was written' }),
    );
    c.close();
  });

  it('a final_proj weight without its bias (E_MISSING_TENSOR)', () => {
    const c = readCheckpoint(fixture('checkpoints/contentvec_legacy.pt'));
    ((c.root as Map<string, Map<string, unknown>>).get('model')!).delete('final_proj.bias');
    expect(() => toHuggingFace(c)).toThrow(expect.objectContaining({ code: 'E_MISSING_TENSOR', message: expect.stringContaining('final_proj has a weight but no bias (model/final_proj.bias is missing)') }));
    c.close();
  });

  it('a fused in_proj whose rows do not split in three, and an unknown bshall key', () => {
    const c = readCheckpoint(fixture('checkpoints/hubert_soft.pt'));
    const root = c.root as Map<string, unknown>;
    root.set('module.encoder.layers.0.self_attn.in_proj_bias', new MemoryTensor('F32', [47], new Uint8Array(47 * 4)));
    expect(() => toHuggingFace(c, { attentionHeads: 4 })).toThrow(expect.objectContaining({ code: 'E_TENSOR_SHAPE', message: expect.stringContaining('module.encoder.layers.0.self_attn.in_proj_bias is [47]; a fused projection needs a first dimension divisible by 3') }));
    root.set('module.encoder.layers.0.self_attn.in_proj_bias', new MemoryTensor('F32', [48], new Uint8Array(48 * 4)));
    root.set('module.decoder.weight', new MemoryTensor('F32', [2], new Uint8Array(8)));
    expect(() => toHuggingFace(c, { attentionHeads: 4 })).toThrow(expect.objectContaining({ code: 'E_UNKNOWN_KEYS', message: expect.stringContaining('module.decoder.weight') }));
    c.close();
  });

  it('--heads on the CLI: bshall without it is a usage error (exit 2); with it the model converts', () => {
    const without = cli(['convert', fixture('checkpoints/hubert_discrete.pt'), '--out', fresh('no-heads')]);
    expect([without.status, errorCode(without.stderr)]).toEqual([2, 'E_NEEDS_HEADS']);
    const bad = cli(['convert', fixture('checkpoints/hubert_discrete.pt'), '--out', fresh('bad-heads'), '--heads', '0']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('expected a positive integer');
    const ok = cli(['convert', fixture('checkpoints/hubert_discrete.pt'), '--out', fresh('heads'), '--heads', '4', '--quiet']);
    expect(ok.status).toBe(0);
  });

  describe('a damaged folder', () => {
    const base = fresh('good');
    const ready = convert(fixture('checkpoints/hubert_soft.pt'), { out: base, attentionHeads: 4 });
    const copy = async (name: string) => {
      await ready;
      const dir = fresh(name);
      cpSync(base, dir, { recursive: true });
      return dir;
    };

    it('two projection heads are ambiguous (E_PROJECTION_FILE)', async () => {
      const dir = await copy('two-heads');
      copyFileSync(fixture('hf/contentvec_legacy/final_proj.safetensors'), join(dir, 'final_proj.safetensors'));
      expect(() => readHfFolder(dir)).toThrow(expect.objectContaining({ code: 'E_PROJECTION_FILE', exitCode: 4, message: `${dir} has final_proj.safetensors and proj.safetensors; a folder holds one projection head. Remove the one that does not belong to this model` }));
    });

    it('a projection file with anything but its weight and bias (E_PROJECTION_FILE)', async () => {
      const dir = await copy('extra-tensor');
      const w = new MemoryTensor('F32', [8, 16], new Uint8Array(8 * 16 * 4));
      writeSafetensors(join(dir, 'proj.safetensors'), [['proj.weight', w], ['proj.extra', w]]);
      expect(() => readHfFolder(dir)).toThrow(expect.objectContaining({ code: 'E_PROJECTION_FILE', message: `${join(dir, 'proj.safetensors')} must hold exactly proj.weight and proj.bias (it holds proj.extra, proj.weight); re-run the conversion to rewrite it` }));
    });

    it('a padding key that is not a non-negative integer (E_CONFIG_INVALID), through the CLI', async () => {
      const dir = await copy('bad-padding');
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hubert_convert_input_padding: '40' }));
      const r = cli(['convert', dir, '--out', fresh('from-bad')]);
      expect([r.status, errorCode(r.stderr)]).toEqual([4, 'E_CONFIG_INVALID']);
      expect(r.stderr).toContain('hubert_convert_input_padding = "40" is not a non-negative integer');
    });
  });

  it('an edited ContentVec file saved again still converts as ContentVec (detection survives a torch.save round trip)', () => {
    const c = readCheckpoint(fixture('checkpoints/contentvec.pt'));
    const path = fresh('contentvec-resaved.pt');
    writeFileSync(path, torchSave(c.root));
    c.close();
    const again = readCheckpoint(path);
    expect(toHuggingFace(again).kind).toBe('contentvec');
    again.close();
  });
});
