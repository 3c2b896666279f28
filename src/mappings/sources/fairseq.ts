import { HUBERT_BASE_PREFIX } from '../../architectures/hubert/names.js';
import { CorruptInputError, UsageError } from '../../errors.js';
import type { Checkpoint } from '../../readers/index.js';
import type { SourceContext } from './registry.js';
import { CfgReader, isCfgMap } from '../cfg-fields.js';
import { type EncoderSpec, fairseqCtcEncoderSpec, fairseqEncoderSpec } from '../encoder-spec.js';
import { PRETRAINED_FINAL_DROPOUT, derivePreprocessor, deriveHubertConfig } from '../hubert-config.js';
import { MappedTensors, stateDictAt } from '../state-dict.js';
import { encoderConversion } from './encoder-conversion.js';
import type { DropRule } from '../engine.js';
import { isProjectionKey, mapProjection } from '../projection.js';
import { CTC_ENCODER_PREFIX, CTC_HEAD_TABLE, fairseqHubertTable } from '../tables/fairseq.js';
import { ctcTokenizer, dictionarySymbols, parseFairseqDict } from '../tokenizer.js';
import type { Conversion, ConversionOptions } from '../types.js';

/** Where a fairseq checkpoint keeps its config: `cfg` (dict or DictConfig, since 2021) or `args` (Namespace, before). */
export function fairseqConfig(root: Map<unknown, unknown>, file: string): { model: CfgReader; task: CfgReader } {
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
  opts: { targetPrefix?: string; stripPrefix?: string; keys?: string[]; family?: { name: string; drops: readonly DropRule[] } } = {},
): void {
  const table = fairseqHubertTable({ posConvBatchNorm: spec.convPosBatchNorm, keepMaskEmb: spec.maskProb > 0 || spec.maskChannelProb > 0 });
  const { family, ...addOptions } = opts;
  out.add(dict, family ? { ...table, name: `${family.name} (${table.name})`, drops: [...family.drops, ...table.drops] } : table, addOptions);
}

/** What a family built on fairseq HuBERT has beyond HubertModel: drop rules for its extra keys, and whole keys set apart. */
export interface FairseqFamily {
  name: string;
  /** Added to the encoder table's drops. */
  drops: readonly DropRule[];
  /** Keys settled by `apart.drops` alone (e.g. layers past the ordinary ones, judged by index), never by the encoder table. */
  apart?: { keys: (key: string) => boolean; drops: readonly DropRule[] };
}

/**
 * A fairseq HubertModel pretraining checkpoint (also ContentVec's legacy file, which is one). `final_proj` is kept as
 * the projection head (final_proj.safetensors).
 */
export function convertFairseqPretrained(
  root: Map<unknown, unknown>,
  file: string,
  kind: 'fairseq-hubert' | 'contentvec-legacy' | 'contentvec' = 'fairseq-hubert',
  family?: FairseqFamily,
): Conversion {
  const { model, task } = fairseqConfig(root, file);
  const spec = fairseqEncoderSpec(model);
  const dict = stateDictAt(root, ['model'], file);
  const head = mapProjection(dict, 'final_proj');
  const out = new MappedTensors();
  const keys = [...dict.tensors.keys()].filter((k) => !isProjectionKey(k, 'final_proj'));
  const apart = family?.apart;
  if (apart) out.add(dict, { name: family.name, renames: [], drops: apart.drops }, { keys: keys.filter(apart.keys) });
  mapFairseqEncoder(out, dict, spec, {
    keys: apart ? keys.filter((k) => !apart.keys(k)) : keys,
    ...(family ? { family: { name: family.name, drops: family.drops } } : {}),
  });
  return encoderConversion(
    kind,
    spec,
    out,
    {
      featProjLayerNorm: true,
      applySpecAugment: true,
      finalDropout: PRETRAINED_FINAL_DROPOUT,
      doNormalize: task.boolean('normalize', false),
    },
    head ? { head } : {},
  );
}

export function convertFairseqCtc(root: Map<unknown, unknown>, file: string, options: ConversionOptions, context: Pick<SourceContext, 'detectKind'>): Conversion {
  const { model: finetune, task } = fairseqConfig(root, file);
  const w2vArgs = finetune.map('w2v_args');
  const dict = stateDictAt(root, ['model'], file);
  const warnings: string[] = [];
  // w2v_args is a full cfg ({model, task, ...}) or, for args-era parents, one flat Namespace; a fresh fairseq
  // fine-tune saves it as None and names the pretrained file in w2v_path (which we never open)
  let pretrainModel: CfgReader;
  if (w2vArgs) {
    pretrainModel = w2vArgs.map('model') ?? w2vArgs;
  } else {
    pretrainModel = pretrainedArchitecture(finetune, file, dict, options.upstream, context);
    warnings.push(`${finetune.where}.w2v_args is None (a fresh fairseq fine-tune): the architecture is the one of --upstream ${options.upstream!.file}, checked against every fine-tuned tensor`);
  }
  const spec = fairseqCtcEncoderSpec(finetune, pretrainModel);
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
    warnings,
    sourceNameOf: out.sourceNameOf,
    tokenizer,
  };
}

/** Tensors a pretraining checkpoint has that its fine-tuned HubertCtc loses (remove_pretraining_modules). */
const PRETRAINING_ONLY = /^(final_proj|target_glu)\./;

/**
 * The pretraining model cfg of a fine-tune whose w2v_args is None, from the --upstream checkpoint, after checking
 * that every fine-tuned encoder tensor exists there with the same shape (a different parent fails loudly).
 */
function pretrainedArchitecture(
  finetune: CfgReader,
  file: string,
  dict: ReturnType<typeof stateDictAt>,
  upstream: Checkpoint | undefined,
  context: Pick<SourceContext, 'detectKind'>,
): CfgReader {
  const w2vPath = finetune.string('w2v_path', '');
  const recorded = w2vPath ? `recorded as w2v_path "${w2vPath}" on the training machine` : 'whose path the checkpoint does not record';
  if (!upstream) {
    throw new UsageError(
      'E_NEEDS_UPSTREAM',
      `${file}: ${finetune.where}.w2v_args is None, so the architecture lives only in the pretrained checkpoint it was fine-tuned from, ${recorded}. ` +
        'hubert-convert never opens a path named inside a checkpoint: pass that pretrained checkpoint with --upstream <pretrained.pt>',
    );
  }
  const kind = context.detectKind(upstream);
  if (kind !== 'fairseq-hubert') {
    throw new UsageError('E_BAD_UPSTREAM', `--upstream ${upstream.file} is a ${kind} checkpoint; a fresh fairseq fine-tune needs the fairseq HuBERT pretraining checkpoint it was fine-tuned from (${recorded})`);
  }
  const parent = upstream.root as Map<unknown, unknown>;
  const { model } = fairseqConfig(parent, upstream.file);
  const pretrained = stateDictAt(parent, ['model'], upstream.file).tensors;
  const problems: string[] = [];
  const fineKeys = new Set<string>();
  for (const [key, t] of dict.tensors) {
    if (!key.startsWith(CTC_ENCODER_PREFIX)) continue;
    const name = key.slice(CTC_ENCODER_PREFIX.length);
    fineKeys.add(name);
    const p = pretrained.get(name);
    if (!p) problems.push(`${name} is not in --upstream`);
    else if (p.shape.join('x') !== t.shape.join('x')) problems.push(`${name} is [${t.shape.join(', ')}] but [${p.shape.join(', ')}] in --upstream`);
  }
  for (const name of pretrained.keys()) if (!fineKeys.has(name) && !PRETRAINING_ONLY.test(name)) problems.push(`${name} of --upstream is not in the fine-tuned model`);
  const layers = model.number('encoder_layers', 12);
  const fineLayers = new Set([...fineKeys].map((k) => /^encoder\.layers\.(\d+)\./.exec(k)?.[1]).filter((n) => n !== undefined)).size;
  if (layers !== fineLayers) problems.push(`--upstream has ${layers} encoder layers, the fine-tuned model ${fineLayers}`);
  if (problems.length > 0) {
    throw new UsageError(
      'E_UPSTREAM_MISMATCH',
      `--upstream ${upstream.file} is not the pretrained model ${file} was fine-tuned from (${problems.slice(0, 8).join('; ')}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}); pass the checkpoint ${recorded}`,
      { problems },
    );
  }
  return model;
}
