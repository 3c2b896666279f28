import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CorruptInputError, UnsupportedModelError, UsageError } from '../../src/errors.js';
import { applyTable } from '../../src/mappings/engine.js';
import { detectSource, framesFor, parseConvFeatureLayers, toHuggingFace } from '../../src/mappings/index.js';
import { fairseqHubertTable } from '../../src/mappings/tables/fairseq.js';
import { parseFairseqDict } from '../../src/mappings/tokenizer.js';
import { type Checkpoint, readCheckpoint } from '../../src/readers/index.js';
import { MemoryTensor } from '../../src/tensor.js';
import { IC_SLOT_LABELS, fixture } from '../helpers/fixtures.js';

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
    expectError(() => toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('s3prl_hubert.pt'), labels: ['a', 'b'] }), UsageError, 'E_LABEL_COUNT', /2 labels.*12 classes/);
  });

  it("takes the labels the expert's own code fixes, and names classes LABEL_i for an expert it does not know", () => {
    const ks = toHuggingFace(read('superb_downstream.ckpt'), { upstream: read('s3prl_hubert.pt') });
    expect(Object.values(ks.model.config.id2label!)).toEqual(['yes', 'no', 'up', 'down', 'left', 'right', 'on', 'off', 'stop', 'go', '_unknown_', '_silence_']);
    const sid = toHuggingFace(read('superb_sid.ckpt'), { upstream: read('s3prl_hubert.pt') });
    expect([sid.model.config.id2label!['0'], sid.model.config.id2label!['1250']]).toEqual(['id10001', 'id11251']);
    const other = edited('superb_downstream.ckpt', (root) => section(root, 'Args').set('downstream', 'my_keywords'));
    const c = toHuggingFace(other, { upstream: read('s3prl_hubert.pt') });
    expect(Object.values(c.model.config.id2label!)).toEqual(Array.from({ length: 12 }, (_, i) => `LABEL_${i}`));
    expect(c.mapped.filter((m) => m.source.startsWith('upstream:')).length).toBeGreaterThan(0);
  });

  it("drops the experts' best_score buffer by a named rule", () => {
    for (const file of ['superb_downstream.ckpt', 'superb_er.ckpt', 'superb_sid.ckpt', 'superb_ic.ckpt', 'superb_ks_upstream.ckpt']) {
      const c = toHuggingFace(read(file), { upstream: read('s3prl_hubert.pt'), ...(file === 'superb_ic.ckpt' ? { labels: [...IC_SLOT_LABELS] } : {}) });
      expect(c.dropped.filter((d) => d.source === 'Downstream/best_score').map((d) => d.reason)).toEqual([expect.stringMatching(/^training state: .*best dev score/)]);
      expect(c.mapped.some((m) => m.source.includes('best_score'))).toBe(false);
    }
  });

  it('names intent-classification slots the way the released superb IC models do; repeated labels are refused', () => {
    const c = toHuggingFace(read('superb_ic.ckpt'), { upstream: read('s3prl_hubert.pt'), labels: [...IC_SLOT_LABELS] });
    const names = Object.values(c.model.config.id2label!);
    expect(names.slice(0, 7)).toEqual(['change language', 'activate', 'deactivate', 'increase', 'decrease', 'bring', 'none_object']);
    expect(names.slice(20)).toEqual(['none_location', 'kitchen', 'bedroom', 'washroom']);
    const plain = IC_SLOT_LABELS.map((l) => l.slice(l.indexOf(':') + 1));
    expectError(() => toHuggingFace(read('superb_ic.ckpt'), { upstream: read('s3prl_hubert.pt'), labels: plain }), UsageError, 'E_DUPLICATE_LABELS', /repeats none;.*slot:value/);
  });
});

describe('SUPERB checkpoint with a fine-tuned Upstream', () => {
  it("uses the checkpoint's own Upstream weights, with the architecture of --upstream, and says so", () => {
    const c = toHuggingFace(read('superb_ks_upstream.ckpt'), { upstream: read('s3prl_hubert.pt') });
    const plain = toHuggingFace(read('s3prl_hubert.pt'));
    const encoder = c.mapped.filter((m) => m.target.startsWith('hubert.'));
    expect(encoder.length).toBe(plain.mapped.length);
    expect(encoder.every((m) => m.source.startsWith('Upstream/model.'))).toBe(true);
    const name = 'encoder.layers.0.feed_forward.intermediate_dense.weight';
    expect(c.model.tensors.get(`hubert.${name}`)!.bytes()).not.toEqual(plain.model.tensors.get(name)!.bytes());
    expect(c.warnings.join('\n')).toMatch(/encoder weights are the checkpoint's own fine-tuned Upstream \(\d+ tensors.*--upstream .*s3prl_hubert\.pt gave the architecture/);
  });

  it('needs --upstream for the architecture, and refuses one that does not match the fine-tuned tensors', () => {
    expectError(() => toHuggingFace(read('superb_ks_upstream.ckpt')), UsageError, 'E_NEEDS_UPSTREAM', /fine-tuned Upstream, which has no architecture config.*--upstream/);
    expectError(
      () => toHuggingFace(read('superb_ks_upstream.ckpt'), { upstream: read('fairseq_large_dictconfig.pt') }),
      UsageError,
      'E_UPSTREAM_MISMATCH',
      /feature_extractor\.conv_layers\.1\.layer_norm\.weight missing.*encoder\.layers\.2\./,
    );
  });
});

describe('fresh fairseq fine-tune (w2v_args None)', () => {
  const W2V_PATH = '/checkpoint/superb/hubert_tiny/checkpoint_best.pt';

  it('refuses without --upstream, naming the recorded w2v_path and the flag', () => {
    expectError(() => toHuggingFace(read('fairseq_ctc_fresh.pt')), UsageError, 'E_NEEDS_UPSTREAM', new RegExp(`w2v_args is None.*w2v_path "${W2V_PATH}".*--upstream`));
    let exit: number | undefined;
    try {
      toHuggingFace(read('fairseq_ctc_fresh.pt'));
    } catch (error) {
      exit = (error as UsageError).exitCode;
    }
    expect(exit).toBe(2);
  });

  it('never opens the w2v_path named inside the checkpoint, even when that file exists', () => {
    const existing = fixture('checkpoints/fairseq_ctc_fresh_pretrained.pt');
    const c = edited('fairseq_ctc_fresh.pt', (root) => section(root, 'cfg', 'model').set('w2v_path', existing));
    expectError(() => toHuggingFace(c), UsageError, 'E_NEEDS_UPSTREAM', new RegExp(`w2v_path "${existing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"`));
  });

  it('takes the architecture from --upstream and says so; refuses a different parent or kind', () => {
    const c = toHuggingFace(read('fairseq_ctc_fresh.pt'), { upstream: read('fairseq_ctc_fresh_pretrained.pt') });
    expect(c.model.config.num_hidden_layers).toBe(2);
    expect(c.warnings.join('\n')).toMatch(/w2v_args is None.*architecture is the one of --upstream .*fairseq_ctc_fresh_pretrained\.pt/);
    expectError(
      () => toHuggingFace(read('fairseq_ctc_fresh.pt'), { upstream: read('fairseq_large_dictconfig.pt') }),
      UsageError,
      'E_UPSTREAM_MISMATCH',
      /not the pretrained model .*feature_extractor\.conv_layers\.0\.2\.weight is not in --upstream/,
    );
    expectError(() => toHuggingFace(read('fairseq_ctc_fresh.pt'), { upstream: read('s3prl_hubert.pt') }), UsageError, 'E_BAD_UPSTREAM', /s3prl-hubert checkpoint.*w2v_path/);
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
