import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { toHuggingFace } from '../../src/mappings/index.js';
import { castTensor } from '../../src/tensor.js';
import { type Checkpoint, readCheckpoint } from '../../src/readers/index.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { CONVERTIBLE, IC_SLOT_LABELS, fixture, readJsonFixture, sha256 } from '../helpers/fixtures.js';

/**
 * The TypeScript mapping against the fixture generator's independent Python mapping: for every source kind, the
 * same tensor names, the same bytes, the same config.json and preprocessor_config.json that transformers wrote.
 */
const opened: Checkpoint[] = [];
afterAll(() => opened.forEach((c) => c.close()));

function open(file: string): Checkpoint {
  const c = readCheckpoint(fixture(`checkpoints/${file}`));
  opened.push(c);
  return c;
}

/** Config fields transformers adds on save that are not part of the model's definition. */
const SAVE_ONLY_FIELDS = new Set(['transformers_version', 'dtype', 'torch_dtype']);

describe.each(CONVERTIBLE)('$name', (f) => {
  // KS, ER and SID get the labels their s3prl expert fixes in code; IC's come as slot:value
  const labels = 'labels' in f ? [...IC_SLOT_LABELS] : undefined;
  const conversion = toHuggingFace(open(f.file), {
    ...('dict' in f ? { dictText: readFileSync(fixture(`checkpoints/${f.dict}`), 'utf8') } : {}),
    ...('upstream' in f ? { upstream: open(f.upstream) } : {}),
    ...(labels ? { labels } : {}),
  });
  const truth = readHfFolder(fixture(`hf/${f.name}`));
  afterAll(() => truth.close());

  it('is detected as the right kind', () => {
    expect(conversion.kind).toBe(f.kind);
  });

  it('derives the config transformers saved', () => {
    const expected = Object.fromEntries(Object.entries(readJsonFixture(`hf/${f.name}/config.json`)).filter(([k]) => !SAVE_ONLY_FIELDS.has(k)));
    expect(conversion.model.config).toEqual(expected);
  });

  it('derives the preprocessor config', () => {
    expect(conversion.model.preprocessor).toEqual(readJsonFixture(`hf/${f.name}/preprocessor_config.json`));
  });

  it('maps every tensor to the HF name and bytes the reference model has', () => {
    const ours = conversion.model.tensors;
    expect([...ours.keys()].sort()).toEqual([...truth.model.tensors.keys()].sort());
    for (const [name, tensor] of truth.model.tensors) {
      // the fp16 fixture's reference model holds the same values upcast to float32 (exactly representable)
      const mine = f.name === 'fairseq_base_fp16' && tensor.dtype === 'F32' ? castTensor(ours.get(name)!, 'F32') : ours.get(name)!;
      expect({ name, dtype: mine.dtype, shape: mine.shape }).toEqual({ name, dtype: tensor.dtype, shape: tensor.shape });
      expect(sha256(mine.bytes()), name).toBe(sha256(tensor.bytes()));
    }
  });

  it('accounts for every source tensor: mapped, or dropped with a reason', () => {
    const sources = new Set([...conversion.mapped.map((m) => m.source), ...conversion.dropped.map((d) => d.source)]);
    expect(sources.size).toBe(conversion.mapped.length + conversion.dropped.length);
    for (const d of conversion.dropped) expect(d.reason.length).toBeGreaterThan(10);
  });
});

it('keeps the float16 weights of a float16 checkpoint as float16', () => {
  const c = toHuggingFace(open('fairseq_base_fp16.pt'));
  const dtypes = new Set([...c.model.tensors.values()].map((t) => t.dtype));
  expect(dtypes).toEqual(new Set(['F16']));
});

describe('CTC vocabulary', () => {
  it('swaps <s> and <pad> so the blank is id 0, like the wav2vec2 converter', () => {
    const c = toHuggingFace(open('fairseq_ctc.pt'), { dictText: readFileSync(fixture('checkpoints/fairseq_ctc.dict.ltr.txt'), 'utf8') });
    expect(c.tokenizer!.vocab).toEqual(readJsonFixture('hf/fairseq_ctc/vocab.json'));
    expect(Object.entries(c.tokenizer!.vocab).slice(0, 5)).toEqual([['<pad>', 0], ['<s>', 1], ['</s>', 2], ['<unk>', 3], ['|', 4]]);
  });

  it('reads the target dictionary pickled in task_state when there is one', () => {
    const c = toHuggingFace(open('fairseq_ctc_taskdict.pt'));
    expect(c.tokenizer!.vocab).toEqual(readJsonFixture('hf/fairseq_ctc_taskdict/vocab.json'));
  });
});
