import { HUBERT_BASE_PREFIX } from '../../architectures/hubert/names.js';
import { CorruptInputError } from '../../errors.js';
import { CfgReader, isCfgMap } from '../cfg-fields.js';
import { type EncoderSpec, fairseqCtcEncoderSpec, fairseqEncoderSpec } from '../encoder-spec.js';
import { PRETRAINED_FINAL_DROPOUT, derivePreprocessor, deriveHubertConfig } from '../hubert-config.js';
import { MappedTensors, stateDictAt } from '../state-dict.js';
import { encoderConversion } from './encoder-conversion.js';
import { CTC_ENCODER_PREFIX, CTC_HEAD_TABLE, fairseqHubertTable } from '../tables/fairseq.js';
import { ctcTokenizer, dictionarySymbols, parseFairseqDict } from '../tokenizer.js';
import type { Conversion, ConversionOptions } from '../types.js';

/** Where a fairseq checkpoint keeps its config: `cfg` (dict or DictConfig, since 2021) or `args` (Namespace, before). */
function fairseqConfig(root: Map<unknown, unknown>, file: string): { model: CfgReader; task: CfgReader } {
  const cfg = root.get('cfg');
  if (isCfgMap(cfg)) {
    const model = cfg.get('model');
    if (!isCfgMap(model)) throw new CorruptInputError('E_NO_CONFIG', `${file}: cfg has no "model" section; cannot derive the architecture`);
    return { model: new CfgReader(model, 'cfg.model'), task: new CfgReader(isCfgMap(cfg.get('task')) ? (cfg.get('task') as Map<unknown, unknown>) : new Map(), 'cfg.task') };
  }
  const args = root.get('args');
  if (isCfgMap(args)) {
    // old checkpoints: one flat Namespace holds model and task fields alike
    const flat = new CfgReader(args, 'args');
    return { model: flat, task: flat };
  }
  throw new CorruptInputError(
    'E_NO_CONFIG',
    `${file}: neither "cfg" nor "args" holds a config; hubert-convert derives config.json from it and cannot guess the architecture`,
  );
}

/** A HubertModel state dict in fairseq names → HF tensors (into `out`, with `targetPrefix`). */
export function mapFairseqEncoder(
  out: MappedTensors,
  dict: ReturnType<typeof stateDictAt>,
  spec: EncoderSpec,
  opts: { targetPrefix?: string; stripPrefix?: string; keys?: string[] } = {},
): void {
  const table = fairseqHubertTable({ posConvBatchNorm: spec.convPosBatchNorm, keepMaskEmb: spec.maskProb > 0 || spec.maskChannelProb > 0 });
  out.add(dict, table, opts);
}

export function convertFairseqPretrained(root: Map<unknown, unknown>, file: string): Conversion {
  const { model, task } = fairseqConfig(root, file);
  const spec = fairseqEncoderSpec(model);
  const dict = stateDictAt(root, ['model'], file);
  const out = new MappedTensors();
  mapFairseqEncoder(out, dict, spec);
  return encoderConversion('fairseq-hubert', spec, out, {
    featProjLayerNorm: true,
    applySpecAugment: true,
    finalDropout: PRETRAINED_FINAL_DROPOUT,
    doNormalize: task.boolean('normalize', false),
  });
}

export function convertFairseqCtc(root: Map<unknown, unknown>, file: string, options: ConversionOptions): Conversion {
  const { model: finetune, task } = fairseqConfig(root, file);
  const w2vArgs = finetune.map('w2v_args');
  if (!w2vArgs) {
    throw new CorruptInputError('E_NO_CONFIG', `${file}: ${finetune.where}.w2v_args is missing; a fine-tuned checkpoint keeps its architecture there`);
  }
  // w2v_args is a full cfg ({model, task, ...}) or, for args-era parents, one flat Namespace
  const pretrainModel = w2vArgs.map('model') ?? w2vArgs;
  const spec = fairseqCtcEncoderSpec(finetune, pretrainModel);
  const dict = stateDictAt(root, ['model'], file);
  const encoderKeys = [...dict.tensors.keys()].filter((k) => k.startsWith(CTC_ENCODER_PREFIX));
  const otherKeys = [...dict.tensors.keys()].filter((k) => !k.startsWith(CTC_ENCODER_PREFIX));
  const out = new MappedTensors();
  mapFairseqEncoder(out, dict, spec, { targetPrefix: HUBERT_BASE_PREFIX, stripPrefix: CTC_ENCODER_PREFIX, keys: encoderKeys });
  out.add(dict, CTC_HEAD_TABLE, { keys: otherKeys });
  const head = out.tensors.get('lm_head.weight');
  if (!head) throw new CorruptInputError('E_NO_CTC_HEAD', `${file}: a fine-tuned CTC checkpoint needs w2v_encoder.proj.weight, which is missing`);
  const vocabRows = head.shape[0]!;

  const symbols = options.dictText !== undefined ? parseFairseqDict(options.dictText) : dictionarySymbols(root);
  if (!symbols) {
    throw new CorruptInputError(
      'E_NO_VOCABULARY',
      `${file}: the checkpoint holds no target dictionary, so the CTC vocabulary is unknown. Pass the dictionary the model was fine-tuned with: --dict dict.ltr.txt (fairseq's letter dictionary, ${vocabRows} entries including the 4 specials)`,
    );
  }
  const tokenizer = ctcTokenizer(symbols, vocabRows);
  const config = deriveHubertConfig(spec, out.tensors, {
    architecture: 'HubertForCTC',
    featProjLayerNorm: true,
    applySpecAugment: true,
    finalDropout: finetune.number('final_dropout', 0.0),
    vocabSize: vocabRows,
  });
  const normalize = task.has('normalize') ? task.boolean('normalize', false) : finetune.boolean('normalize', false);
  return {
    kind: 'fairseq-hubert-ctc',
    model: { architecture: 'HubertForCTC', config, preprocessor: derivePreprocessor(config, normalize), tensors: out.tensors },
    mapped: out.mapped,
    dropped: out.dropped,
    warnings: [],
    sourceNameOf: out.sourceNameOf,
    tokenizer,
  };
}
