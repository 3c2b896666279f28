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
  const head = (name: string, out: number) => ({ name, out });
  it.each([
    ['contentvec.pt', 'contentvec', { layers: 4, heads: 4, hidden: 16, projection: head('final_proj', 8), inputPadding: 0, unitLayer: null, profiles: [] }],
    ['contentvec_legacy.pt', 'contentvec-legacy', { layers: 4, heads: 4, hidden: 16, projection: head('final_proj', 8), inputPadding: 0, unitLayer: null, profiles: [] }],
    ['hubert_soft.pt', 'hubert-soft', { layers: 8, heads: null, hidden: 16, projection: head('proj', 8), inputPadding: 40, unitLayer: null, profiles: ['so-vits-hubertsoft'] }],
    ['hubert_discrete.pt', 'hubert-discrete', { layers: 8, heads: null, hidden: 16, projection: null, inputPadding: 40, unitLayer: 7, profiles: [] }],
    ['fairseq_base_dict.pt', 'fairseq-hubert', { layers: 2, heads: 4, hidden: 32, projection: head('final_proj', 16), inputPadding: 0, unitLayer: null, profiles: [] }],
  ] as const)('%s (%s)', (file, kind, offers) => {
    const r = inspectCheckpoint(fixture(`checkpoints/${file}`));
    expect(r.kind).toBe(kind);
    expect(r.offers).toEqual({ what: 'model', ...offers });
    if (offers.heads === null) {
      expect(r.hfConfig).toBeNull();
      expect(r.warnings).toContainEqual(expect.stringMatching(/^would not convert without --heads: .*does not record its attention heads/));
    }
  });

  it('--heads completes a bshall model: the head count and the derived config', () => {
    const r = inspectCheckpoint(fixture('checkpoints/hubert_soft.pt'), { attentionHeads: 4 });
    expect(r.offers).toMatchObject({ what: 'model', heads: 4 });
    expect(r.hfConfig?.num_attention_heads).toBe(4);
    expect(r.warnings).toEqual([]);
  });

  it('the CLI prints the offers, the missing head count and the unit layer', () => {
    const soft = cli(['inspect', fixture('checkpoints/hubert_soft.pt')]);
    expect(soft.status).toBe(0);
    expect(soft.stdout).toContain('Heads: not recorded in the file (8 layers, hidden 16); pass --heads N to convert it\n');
    expect(soft.stdout).toContain('Offers: --output-layer 1..8, --final-proj (proj, 8 channels), 40-sample padding inside; profiles: so-vits-hubertsoft\n');
    const discrete = cli(['inspect', fixture('checkpoints/hubert_discrete.pt'), '--heads', '4']);
    expect(discrete.stdout).toContain('Units: its original API takes them from layer 7 (--output-layer 7 --kmeans <its k-means file>)\n');
    expect(discrete.stdout).not.toContain('Heads: not recorded');
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
