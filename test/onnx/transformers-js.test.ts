/**
 * transformers.js, the downstream client, loads our folder offline (config.json + preprocessor_config.json + onnx/*)
 * with AutoModel + AutoProcessor for every dtype we write (its dtype names are ours); its outputs equal a direct
 * onnxruntime-node run of the same file on the processor's inputs and lie within the variant's verify tolerance of
 * the fp32 graph. For CTC, its ASR pipeline (with tokenizer.json from src/mappings/tokenizer.ts) decodes our logits
 * exactly as transformers' CTC tokenizer would.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModel, AutoProcessor, env, pipeline, type Tensor } from '@huggingface/transformers';
import { afterAll, describe, expect, it } from 'vitest';
import { ctcTokenizer, parseFairseqDict } from '../../src/mappings/tokenizer.js';
import { ONNX_VARIANTS } from '../../src/model.js';
import { compareTensors, DEFAULT_TOLERANCES } from '../../src/verify/index.js';
import { buildOnnx, VARIANT_FILES } from '../../src/writers/onnx/index.js';
import { FIXTURES, loadHfModel, maxAbsDiff, runGraph } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'onnx-tjs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** transformers.js dtype names are our variant names (src/model.ts). */
const DTYPES = ONNX_VARIANTS;

describe.each([
  ['fairseq_base_dict', 'last_hidden_state'],
  ['fairseq_large_dictconfig', 'last_hidden_state'],
  ['fairseq_ctc', 'logits'],
  ['superb_downstream', 'logits'],
])('%s', (name, output) => {
  it.each(DTYPES)(`AutoModel dtype %s gives our ${output}, within the variant's tolerance of fp32`, async (dtype) => {
    const variant = dtype;
    const dir = join(root, name);
    cpSync(join(FIXTURES, 'hf', name, 'config.json'), join(dir, 'config.json'));
    cpSync(join(FIXTURES, 'hf', name, 'preprocessor_config.json'), join(dir, 'preprocessor_config.json'));
    await buildOnnx(loadHfModel(join(FIXTURES, 'hf', name)), dir, { variants: variant === 'fp32' ? ['fp32'] : ['fp32', variant] });
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;

    const processor = await AutoProcessor.from_pretrained(name);
    const audio = new Float32Array(12345).map((_, i) => 0.3 * Math.sin(i / 7) + 0.1 * Math.sin(i / 3.1));
    const inputs = (await processor(audio)) as Record<string, Tensor>;
    const model = await AutoModel.from_pretrained(name, { dtype });
    const result = (await model(inputs)) as Record<string, Tensor>;
    await model.dispose();
    expect(Object.keys(result)).toEqual([output]);

    const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { shape: t.dims, data: t.data as Float32Array | BigInt64Array }]));
    const ours = (await runGraph(join(dir, VARIANT_FILES[variant]), feeds)).get(output)!;
    expect(result[output]!.dims).toEqual(ours.dims);
    expect(maxAbsDiff(result[output]!.data as Float32Array, ours.data)).toBeLessThanOrEqual(1e-5);
    const fp32 = (await runGraph(join(dir, VARIANT_FILES.fp32), feeds)).get(output)!;
    const c = compareTensors(output, result[output]!.data as Float32Array, fp32.data, [...fp32.dims], DEFAULT_TOLERANCES[variant]);
    expect(c.failures).toEqual([]);
  });
});

/**
 * Greedy CTC decoding as transformers' Wav2Vec2CTCTokenizer does it: drop special tokens other than the blank, merge
 * repeats, drop the blank (<pad>), word delimiter → space, strip.
 */
function ctcDecode(logits: { dims: readonly number[]; data: Float32Array }, vocab: Record<string, number>): string {
  const [, frames, size] = logits.dims as [number, number, number];
  const symbol = Object.fromEntries(Object.entries(vocab).map(([k, v]) => [v, k]));
  const tokens: string[] = [];
  for (let t = 0; t < frames; t++) {
    let best = 0;
    for (let v = 1; v < size; v++) if (logits.data[t * size + v]! > logits.data[t * size + best]!) best = v;
    const s = symbol[best]!;
    if (s === '<s>' || s === '</s>' || s === '<unk>') continue;
    if (tokens.at(-1) !== s) tokens.push(s);
  }
  return tokens.filter((s) => s !== '<pad>').join('').replaceAll('|', ' ').trim();
}

describe('fairseq_ctc with the tokenizer files from src/mappings/tokenizer.ts', () => {
  it("pipeline('automatic-speech-recognition') decodes our logits", async () => {
    const name = 'fairseq_ctc_asr';
    const dir = join(root, name);
    const model = loadHfModel(join(FIXTURES, 'hf', 'fairseq_ctc'));
    for (const f of ['config.json', 'preprocessor_config.json']) cpSync(join(FIXTURES, 'hf', 'fairseq_ctc', f), join(dir, f));
    const dict = parseFairseqDict(readFileSync(join(FIXTURES, 'checkpoints', 'fairseq_ctc.dict.ltr.txt'), 'utf8'));
    const tokenizer = ctcTokenizer(dict, model.config.vocab_size);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer.tokenizerJson));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizer.tokenizerConfig));
    await buildOnnx(model, dir, { variants: ['fp32'] });
    env.allowRemoteModels = false;
    env.localModelPath = `${root}/`;

    const asr = await pipeline('automatic-speech-recognition', name, { dtype: 'fp32' });
    const processor = await AutoProcessor.from_pretrained(name);
    const texts: string[] = [];
    for (const seed of [2, 6]) {
      // noise plus a tone: with this random-weight model these give varied letter sequences
      let state = seed;
      const audio = new Float32Array(32000).map((_, i) => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return (state / 2 ** 32 - 0.5) * seed * 0.5 + Math.sin(i / (seed + 1));
      });
      const { text } = (await asr(audio)) as { text: string };
      const inputs = (await processor(audio)) as Record<string, Tensor>;
      const feeds = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, { shape: t.dims, data: t.data as Float32Array | BigInt64Array }]));
      const logits = (await runGraph(join(dir, 'onnx/model.onnx'), feeds)).get('logits')!;
      expect(text).toBe(ctcDecode(logits, tokenizer.vocab));
      texts.push(text);
    }
    await asr.dispose();
    expect(texts.every((t) => t.length > 1)).toBe(true);
  });
});
