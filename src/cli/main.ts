#!/usr/bin/env node
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EXIT_CODES, HubertConvertError } from '../errors.js';
import { VERSION } from '../version.js';
import { runConvert, runDemo, runInspect, runVerify } from './commands.js';

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
}

/** --labels keeps empty entries (`a,,b`), so that they are refused by name instead of silently shifting the classes. */
function labelList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

function number(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a non-negative number');
  return n;
}

function layerNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a layer number (1, 2, ...: 1-based, as fairseq output_layer)');
  return n;
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

const program = new Command()
  .name('hubert-convert')
  .description('Convert fairseq and S3PRL HuBERT checkpoints to Hugging Face safetensors and ONNX, safely, with no Python, and verify parity.')
  .version(VERSION, '-V, --version')
  .option('--debug', 'print stack traces for errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

program
  .command('convert')
  .description('convert a checkpoint (or an existing Hugging Face folder) into a Hugging Face folder, optionally with ONNX graphs')
  .argument('<checkpoint>', 'fairseq .pt, s3prl .pt/.ckpt, or a Hugging Face model folder')
  .requiredOption('-o, --out <dir>', 'output folder (written to a temporary sibling and renamed at the end)')
  .option('--dict <file>', "fairseq dict.ltr.txt for fine-tuned CTC models whose checkpoint lacks the vocabulary")
  .option('--upstream <file>', 'the upstream HuBERT checkpoint of a SUPERB downstream head')
  .option('--labels <a,b,...>', 'class labels of a sequence-classification head, in class-index order', labelList)
  .option('--onnx <variants>', 'also write ONNX graphs, named by transformers.js dtype: fp32,fp16,q8,int8,uint8,q4,q4f16,bnb4 (q8 = model_quantized.onnx)', list)
  .option('--hidden-states', 'add every hidden state as an ONNX output')
  .option('--external-data', 'write ONNX weights to model.onnx_data (automatic above 2 GB)')
  .option('--output-layer <N>', "ONNX graphs end at transformer layer N (1-based, fairseq extract_features(output_layer=N)); output layer_N", layerNumber)
  .option('--final-proj', "apply the model's projection head (ContentVec/HuBERT final_proj, hubert-soft proj) to the output")
  .option('--kmeans <file>', 'k-means quantizer (fairseq learn_kmeans.py .bin/.km, bshall kmeans .pt) of layer N: adds int64 units (needs --output-layer)')
  .option('--dedup-units', 'with --kmeans: also output dedup_units and unit_durations (run-length encoded units)')
  .option('--profile <name>', 'the ONNX I/O contract of a voice-conversion project: rvc-v1, rvc-v2, so-vits-vec256l9, so-vits-vec768l12, so-vits-hubertsoft (docs/PROFILES.md)')
  .addOption(new Option('--dtype <dtype>', 'dtype of the written weights').choices(['keep', 'fp32', 'fp16', 'bf16']).default('keep'))
  .option('--max-shard-size <size>', 'largest safetensors shard, e.g. 5GB or 500MB', '5GB')
  .addOption(new Option('--kind <kind>', 'source kind, overriding detection').choices(['fairseq-hubert', 'fairseq-hubert-ctc', 's3prl-hubert', 'distilhubert', 'superb-downstream', 'contentvec-legacy', 'contentvec', 'hubert-soft', 'hubert-discrete']))
  .option('--heads <n>', "attention heads of a bshall hubert-soft/-discrete model that is not 768 wide (its state dict does not record them)", positiveInteger)
  .option('--allow-global <module.name>', 'keep this pickle global outside the allow-list as an inert record (after checking the file); repeatable', collect, [])
  .option('--strict', 'accepted for compatibility; refusing every pickle global outside the allow-list is now the default')
  .option('--force', 'replace an existing output folder, if it is empty or one hubert-convert wrote')
  .option('--verify', 'verify the result before publishing it (nothing is written if a check fails)')
  .option('--memory-budget <MiB>', 'MiB an onnxruntime session may take when the graphs are run (accuracy figures, --verify); bigger graphs run in pieces, one loaded at a time (default 1024; 0 or "whole": every graph whole)')
  .option('--json', 'print only a JSON report on stdout')
  .option('-q, --quiet', 'no progress output')
  .addHelpText(
    'after',
    `
Examples:
  $ hubert-convert convert hubert_base_ls960.pt --out hubert-base --onnx fp32,q8 --verify
  $ hubert-convert convert hubert_large_ll60k_finetune_ls960.pt --dict dict.ltr.txt --out hubert-large-ctc
  $ hubert-convert convert superb_ks.ckpt --upstream hubert_base_ls960.pt --labels yes,no,up,down --out ks
  $ hubert-convert convert ./existing-hf-folder --out ./with-onnx --onnx fp32,fp16,q8
  $ hubert-convert convert hubert_base.pt --out vec-256-layer-9 --profile rvc-v1
  $ hubert-convert convert mhubert_base_vp_en_es_fr_it3.pt --out mhubert-units --output-layer 11 --kmeans mhubert_base_vp_en_es_fr_it3_L11_km1000.bin`,
  )
  .action(async (checkpoint: string, options, command: Command) => runConvert(checkpoint, { ...command.optsWithGlobals(), ...options }));

program
  .command('inspect')
  .description('summarise a checkpoint or a Hugging Face folder: format, detected kind, config, tensors, pickle globals, warnings')
  .argument('<file>', 'checkpoint or pickle file, or a Hugging Face model folder')
  .option('--json', 'print a JSON report on stdout')
  .option('--allow-global <module.name>', 'keep this pickle global outside the allow-list as an inert record (after checking the file); repeatable', collect, [])
  .option('--strict', 'accepted for compatibility; refusing every pickle global outside the allow-list is now the default')
  .option('--scan', 'scan every tensor for NaN/Inf even in files over 1 GiB')
  .option('--heads <n>', 'attention heads of a bshall model that is not 768 wide (as for convert)', positiveInteger)
  .option('--no-scan', 'do not scan tensor values')
  .addHelpText('after', '\nExamples:\n  $ hubert-convert inspect hubert_base_ls960.pt\n  $ hubert-convert inspect model.ckpt --json | jq .tensors')
  .action(async (file: string, options, command: Command) => runInspect(file, { ...command.optsWithGlobals(), ...options }));

program
  .command('verify')
  .description('check a converted folder: weights against the source, config consistency, ONNX parity against an independent reference')
  .argument('<dir>', 'a folder written by hubert-convert (or any HF HuBERT folder with onnx/)')
  .option('--source <checkpoint>', 'the original checkpoint, to check every tensor bit for bit')
  .option('--upstream <file>', 'the upstream checkpoint, for SUPERB heads')
  .option('--dict <file>', 'the dict.ltr.txt the CTC conversion used, when the checkpoint holds none')
  .option('--labels <a,b,...>', 'the labels the classification conversion used', labelList)
  .option('--audio <file>', 'add your own input (.wav 16 kHz mono, or .npy float32); repeatable', collect, [])
  .option('--expected <file>', 'activations produced elsewhere (.safetensors or .npy) to compare with')
  .option('--allow-global <module.name>', 'keep this pickle global outside the allow-list as an inert record when reading --source/--upstream; repeatable', collect, [])
  .option('--atol <n>', 'absolute tolerance for fp32 outputs (default 1e-4)', number)
  .option('--rtol <n>', 'relative tolerance', number)
  .option('--min-cosine <n>', 'minimum cosine similarity for every variant\'s outputs', number)
  .option('--memory-budget <MiB>', 'MiB an onnxruntime session may take; bigger graphs are verified in pieces, one loaded at a time (default 1024; 0 or "whole": every graph whole)')
  .option('--json', 'print the JSON report on stdout')
  .option('-q, --quiet', 'no progress output')
  .addHelpText('after', '\nExit codes: 0 all checks passed, 1 a check failed, others: see README.\n\nExamples:\n  $ hubert-convert verify hubert-base --source hubert_base_ls960.pt\n  $ hubert-convert verify hubert-base --json > verify.json')
  .action(async (dir: string, options, command: Command) => runVerify(dir, { ...command.optsWithGlobals(), ...options }));

program
  .command('demo')
  .description('convert a bundled fixture end to end into a temporary folder, with ONNX, and verify it')
  .option('--json', 'print the JSON report on stdout')
  .option('--keep', 'keep the output folder and print its path')
  .action(async (options, command: Command) => runDemo({ ...command.optsWithGlobals(), ...options }));

async function main(): Promise<void> {
  const debug = process.argv.includes('--debug');
  const json = process.argv.includes('--json');
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // help and version "errors" are successes; everything else commander reports is a usage error
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_CODES.usage;
      return;
    }
    const known = error instanceof HubertConvertError;
    const code = known ? error.code : 'E_INTERNAL';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`hubert-convert: error[${code}]: ${message}\n`);
    if (!known) process.stderr.write('This is a bug in hubert-convert; please report it with the command you ran (add --debug for a stack trace).\n');
    if (debug && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    if (json) {
      const kind = known ? error.kind : 'internal';
      process.stdout.write(`${JSON.stringify({ schema: 'hubert-convert/error', version: 1, error: { code, kind, message, exitCode: EXIT_CODES[kind] } }, null, 2)}\n`);
    }
    process.exitCode = known ? error.exitCode : EXIT_CODES.internal;
  }
}

await main();
