import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptInputError, UnsupportedModelError, UsageError } from '../../src/errors.js';
import { applyTable } from '../../src/mappings/engine.js';
import { detectSource, framesFor, parseConvFeatureLayers, toHuggingFace } from '../../src/mappings/index.js';
import { fairseqHubertTable } from '../../src/mappings/tables/fairseq.js';
import { parseFairseqDict } from '../../src/mappings/tokenizer.js';
import { type Checkpoint, readCheckpoint } from '../../src/readers/index.js';
import { MemoryTensor } from '../../src/tensor.js';
import { fixture } from '../helpers/fixtures.js';

function read(file: string): Checkpoint {
  return readCheckpoint(fixture(`checkpoints/${file}`));
}

/** A fixture whose object tree was edited by `edit` (each call reads a fresh copy). */
function edited(file: string, edit: (root: Map<unknown, unknown>) => void): Checkpoint {
  const c = read(file);
  edit(c.root as Map<unknown, unknown>);
  return c;
}

function section(root: Map<unknown, unknown>, ...path: string[]): Map<unknown, unknown> {
  let v: unknown = root;
  for (const k of path) v = (v as Map<unknown, unknown>).get(k);
  return v as Map<unknown, unknown>;
}

function expectError(fn: () => unknown, type: new (...args: never[]) => Error, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as { code: string }).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

describe('conv_feature_layers parser', () => {
  it('parses the fairseq default and its variants', () => {
    const base = parseConvFeatureLayers('[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2');
    expect(base).toHaveLength(7);
    expect(base[0]).toEqual({ dim: 512, kernel: 10, stride: 5 });
    expect(base[6]).toEqual({ dim: 512, kernel: 2, stride: 2 });
    expect(parseConvFeatureLayers('[(512, 10, 5)]+2*[(256,3,2),]')).toEqual([
      { dim: 512, kernel: 10, stride: 5 },
      { dim: 256, kernel: 3, stride: 2 },
      { dim: 256, kernel: 3, stride: 2 },
    ]);
  });

  it.each([
    ["__import__('os').system('id')"],
    ['[(512,10,5)] * 100000'],
    ['[(512,10)]'],
    ['[(512,10,5)] - [(1,1,1)]'],
    ['[]'],
    ['[(0,10,5)]'],
  ])('refuses %s without evaluating anything', (text) => {
    expectError(() => parseConvFeatureLayers(text), UnsupportedModelError, 'E_CONV_LAYERS_SYNTAX', /conv_feature_layers/);
  });

  it('counts frames as transformers does', () => {
    const conv = parseConvFeatureLayers('[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2');
    expect(framesFor(16000, conv)).toBe(49);
    expect(framesFor(11000, conv)).toBe(34);
    expect(framesFor(300, conv)).toBe(0);
  });
});

describe('the rename engine', () => {
  it('renames, drops with reasons, and reports the rest as unknown', () => {
    const table = fairseqHubertTable({ posConvBatchNorm: false, keepMaskEmb: false });
    const r = applyTable(table, ['encoder.layers.11.fc1.weight', 'mask_emb', 'final_proj.bias', 'decoder.weight']);
    expect(r.mapped).toEqual([{ source: 'encoder.layers.11.fc1.weight', target: 'encoder.layers.11.feed_forward.intermediate_dense.weight' }]);
    expect(r.dropped.map((d) => d.source)).toEqual(['mask_emb', 'final_proj.bias']);
    expect(r.unknown).toEqual(['decoder.weight']);
  });
});

describe('conversion errors', () => {
  it('lists unknown source keys', () => {
    const c = edited('fairseq_base_dict.pt', (root) => {
      const model = section(root, 'model');
      model.set('encoder.adapter.weight', model.get('mask_emb'));
      model.set('decoder.embed.weight', model.get('mask_emb'));
    });
    expectError(() => toHuggingFace(c), UnsupportedModelError, 'E_UNKNOWN_KEYS', /encoder\.adapter\.weight, decoder\.embed\.weight/);
  });

  it('refuses a config that disagrees with the tensors', () => {
    const c = edited('fairseq_base_dict.pt', (root) => section(root, 'cfg', 'model').set('encoder_layers', 3));
    expectError(() => toHuggingFace(c), CorruptInputError, 'E_CONFIG_MISMATCH', /num_hidden_layers.*3.*2/);
  });

  it('refuses a conv stack that disagrees with the tensors', () => {
    const c = edited('fairseq_base_dict.pt', (root) => section(root, 'cfg', 'model').set('conv_feature_layers', '[(16,10,5)] + [(16,3,2)] * 6'));
    expectError(() => toHuggingFace(c), CorruptInputError, 'E_CONFIG_MISMATCH', /conv layer 5/);
  });

  it('refuses non-transformer encoders and unknown activations', () => {
    const conformer = edited('fairseq_base_dict.pt', (root) => section(root, 'cfg', 'model').set('layer_type', 'conformer'));
    expectError(() => toHuggingFace(conformer), UnsupportedModelError, 'E_UNSUPPORTED_FAMILY', /conformer checkpoint \(cfg\.model\.layer_type is "conformer"\)/);
    expectError(() => toHuggingFace(conformer, { kind: 'fairseq-hubert' }), UnsupportedModelError, 'E_LAYER_TYPE', /conformer/);
    const act = edited('fairseq_base_dict.pt', (root) => section(root, 'cfg', 'model').set('activation_fn', 'swish'));
    expectError(() => toHuggingFace(act), UnsupportedModelError, 'E_ACTIVATION', /swish/);
  });

  it('needs a config', () => {
    const c = edited('fairseq_base_dict.pt', (root) => root.delete('cfg'));
    expect(() => detectSource(c.root, c.file)).toThrow(UnsupportedModelError);
    expectError(() => toHuggingFace(c, { kind: 'fairseq-hubert' }), CorruptInputError, 'E_NO_CONFIG', /neither "cfg" nor "args"/);
  });

  it('says what it found in an unrecognised file', () => {
    const c = edited('fairseq_base_dict.pt', (root) => {
      root.clear();
      root.set('state', new Map());
    });
    expectError(() => toHuggingFace(c), UnsupportedModelError, 'E_UNKNOWN_SOURCE', /found top-level keys "state"/);
  });

  it('recognises a wav2vec 2.0 checkpoint and says it is not HuBERT', () => {
    const c = edited('fairseq_base_dict.pt', (root) => section(root, 'model').set('quantizer.vars', section(root, 'model').get('mask_emb')));
    expectError(() => toHuggingFace(c), UnsupportedModelError, 'E_UNSUPPORTED_FAMILY', /a wav2vec 2\.0 checkpoint \(its state dict has a quantizer \(quantizer\.vars\)\), not HuBERT/);
  });
});

describe('CTC vocabulary errors', () => {
  const dictText = readFileSync(fixture('checkpoints/fairseq_ctc.dict.ltr.txt'), 'utf8');

  it('asks for --dict when the checkpoint has no dictionary', () => {
    expectError(() => toHuggingFace(read('fairseq_ctc.pt')), CorruptInputError, 'E_NO_VOCABULARY', /--dict dict\.ltr\.txt/);
  });

  it('refuses a dictionary whose size does not match the head', () => {
    const short = dictText.split('\n').slice(1).join('\n');
    expectError(() => toHuggingFace(read('fairseq_ctc.pt'), { dictText: short }), CorruptInputError, 'E_VOCAB_SIZE', /symbols.*CTC head has \d+ rows/);
  });

  it('refuses malformed dictionary lines', () => {
    expectError(() => parseFairseqDict('E 10\nT\n'), CorruptInputError, 'E_DICT_SYNTAX', /line 2/);
    expectError(() => parseFairseqDict('E 10\nE 5\n'), CorruptInputError, 'E_DICT_SYNTAX', /duplicate/);
    expect(parseFairseqDict('E 10\nE 5 #fairseq:overwrite\n')).toEqual(['<s>', '<pad>', '</s>', '<unk>', 'E']);
  });
});

describe('SUPERB downstream errors', () => {
  it('needs --upstream', () => {
    expectError(() => toHuggingFace(read('superb_downstream.ckpt')), UsageError, 'E_NEEDS_UPSTREAM', /--upstream/);
  });

  it('refuses an upstream that is not HuBERT', () => {
    expectError(() => toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('distilhubert.ckpt') }), UsageError, 'E_BAD_UPSTREAM', /distilhubert/);
  });

  it('refuses heads HF cannot represent', () => {
    expectError(
      () => toHuggingFace(read('superb_downstream_prenet.ckpt'), { upstream: read('s3prl_hubert.pt') }),
      UnsupportedModelError,
      'E_NOT_CONVERTIBLE',
      /model\.pre_net/,
    );
    const pooled = edited('superb_downstream.ckpt', (root) =>
      section(root, 'Config', 'downstream_expert', 'modelrc').set('UtteranceLevel', new Map([['pooling', 'AttentivePooling']])),
    );
    expectError(() => toHuggingFace(pooled, { upstream: read('s3prl_hubert.pt') }), UnsupportedModelError, 'E_NOT_CONVERTIBLE', /AttentivePooling/);
  });

  it('checks the label count against the classifier', () => {
    expectError(() => toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('s3prl_hubert.pt'), labels: ['a', 'b'] }), UsageError, 'E_LABEL_COUNT', /2 labels.*5 classes/);
  });

  it('names classes LABEL_i without --labels', () => {
    const c = toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('s3prl_hubert.pt') });
    expect(c.model.config.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2', 3: 'LABEL_3', 4: 'LABEL_4' });
    expect(c.mapped.filter((m) => m.source.startsWith('upstream:')).length).toBeGreaterThan(0);
  });
});

describe('SUPERB over a pre-LN upstream', () => {
  it('warns that transformers 5.x weighs a different last hidden state than s3prl', () => {
    const c = toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('s3prl_hubert.pt') });
    expect(c.warnings).toEqual([]);
    const preLn = read('superb_downstream.ckpt');
    const upstream = read('fairseq_large_dictconfig.pt');
    // the large-style upstream has 3 layers (4 hidden states) and hidden size 32, like the head's projector input
    section(preLn.root as Map<unknown, unknown>, 'Featurizer').set('weights', new MemoryTensor('F32', [4], new Uint8Array(16)));
    const converted = toHuggingFace(preLn, { upstream });
    expect(converted.model.config.do_stable_layer_norm).toBe(true);
    expect(converted.warnings.join('\n')).toMatch(/pre-LN.*differ from s3prl/);
  });
});
