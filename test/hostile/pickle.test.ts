import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EXIT_CODES, UnsafeInputError } from '../../src/errors.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { fixture } from '../helpers/fixtures.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';

/**
 * The allow-list corpus (fixtures/gen/hostile_pickles.py), run through the built CLI in a scratch world: every file
 * ends in exit 3 with its error code and message, fast and small, writes nothing anywhere, and runs nothing (the
 * payloads would create /tmp/hubert_convert_canary_<name>).
 */

const DIR = fixture('hostile');
const CANARY_PREFIX = 'hubert_convert_canary_';

const refused = (global: string, would: string): [string, RegExp] => [
  'E_PICKLE_UNSAFE_GLOBAL',
  new RegExp(`the pickle references ${esc(global)}, which could run code: loading this file with PyTorch \\(torch\\.load weights_only=False\\) would ${esc(would)}`),
];
const notListed = (global: string): [string, RegExp] => ['E_PICKLE_UNSAFE_GLOBAL', new RegExp(`the pickle references ${esc(global)}, which is not on the allow-list.*--allow-global ${esc(global)}`)];
const argument = (message: string): [string, RegExp] => ['E_PICKLE_UNSAFE_ARGUMENT', new RegExp(esc(message))];
const unsafeCall = (message: string): [string, RegExp] => ['E_PICKLE_UNSAFE_CALL', new RegExp(esc(message))];
const badName = (shown: string, why: string): [string, RegExp] => ['E_PICKLE_BAD_GLOBAL_NAME', new RegExp(`the pickle references the global ${esc(shown)}, which no Python module can hold \\(${esc(why)}`)];
function esc(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// file → [error code, message fragment]
const EXPECTED: Record<string, [string, RegExp]> = {
  'unsafe_imaplib_imap4_stream.pt': refused('imaplib.IMAP4_stream', 'import imaplib and call imaplib.IMAP4_stream(...)'),
  'unsafe_uuid_get_command_stdout.pt': refused('uuid._get_command_stdout', 'import uuid and call uuid._get_command_stdout(...)'),
  'unsafe_osx_support_read_output.pt': refused('_osx_support._read_output', 'import _osx_support and call _osx_support._read_output(...)'),
  'unsafe_fx_exec_with_source.pt': refused('torch.fx.graph_module._exec_with_source', 'import torch.fx.graph_module and call torch.fx.graph_module._exec_with_source(...)'),
  'unsafe_logging_dictconfig.pt': refused('logging.config.dictConfig', 'import logging.config and call logging.config.dictConfig(...)'),
  'unsafe_torch_save.pt': refused('torch.serialization.save', 'import torch.serialization and call torch.serialization.save(...)'),
  'unsafe_numpy_savetxt.pt': refused('numpy.savetxt', 'import numpy and call numpy.savetxt(...)'),
  'unsafe_numpy_memmap.pt': refused('numpy.memmap', 'import numpy and call numpy.memmap(...)'),
  'unsafe_timeit.pt': refused('timeit.timeit', 'import timeit and call timeit.timeit(...)'),
  'unsafe_code_runsource.pt': refused('code.InteractiveInterpreter.runsource', 'import code and call code.InteractiveInterpreter.runsource(...)'),
  'unsafe_pty_spawn.pt': refused('pty.spawn', 'import pty and call pty.spawn(...)'),
  'unsafe_fairseq_eval_str_list.pt': refused('fairseq.utils.eval_str_list', 'import fairseq.utils and call fairseq.utils.eval_str_list(...)'),
  'unsafe_hydra_instantiate.pt': refused('hydra.utils.instantiate', 'import hydra.utils and call hydra.utils.instantiate(...)'),
  'unsafe_legacy_imaplib.pt': refused('imaplib.IMAP4_stream', 'import imaplib and call imaplib.IMAP4_stream(...)'),
  'unsafe_load_from_bytes_nested.pt': refused('torch.storage._load_from_bytes', 'import torch.storage and call torch.storage._load_from_bytes(...)'),
  'unsafe_rebuild_from_type_os_system.pt': refused('posix.system', 'import posix (running its import-time code) and fetch posix.system'),
  'unsafe_rebuild_from_type_foreign_func.pt': argument('torch._tensor._rebuild_from_type_v2 is given builtins.set as the function to call'),
  'unsafe_rebuild_hooks_os_system.pt': refused('posix.system', 'import posix'),
  'unsafe_rebuild_hooks_allowed_callable.pt': argument('torch._utils._rebuild_tensor_v2 is given backward hooks'),
  'unsafe_rebuild_parameter_hooks.pt': argument('torch._utils._rebuild_parameter is given backward hooks'),
  'unsafe_reconstructor_popen_base.pt': refused('subprocess.Popen', 'import subprocess'),
  'unsafe_reconstructor_bad_base.pt': argument('copyreg._reconstructor is given the base argparse.Namespace, which is not a builtin type'),
  'unsafe_reconstructor_foreign_class.pt': notListed('mypkg.models.Evil'),
  'unsafe_build_on_class.pt': unsafeCall('(BUILD): the pickle sets attributes on collections.OrderedDict itself'),
  'unsafe_newobj_popen.pt': refused('subprocess.Popen', 'import subprocess and create a subprocess.Popen object (subprocess.Popen.__new__)'),
  'unsafe_newobj_function.pt': unsafeCall('(NEWOBJ): the pickle constructs _codecs.encode, which the allow-list does not accept as a class'),
  'unsafe_obj_popen.pt': refused('subprocess.Popen', 'import subprocess and call subprocess.Popen(...)'),
  'unsafe_reduce_call_result.pt': unsafeCall('(REDUCE): the pickle calls a value that is not a global'),
  'unsafe_pydoc_locate_chain.pt': refused('pydoc.locate', 'import pydoc and call pydoc.locate(...)'),
  'unsafe_codecs_rot13.pt': argument('_codecs.encode is given the codec "rot13"'),
  'unsafe_storage_allocation.pt': unsafeCall('the pickle calls torch.FloatStorage, which the allow-list accepts only as a value'),
  'unsafe_p4_torch_hub_dotted.pt': refused('torch.hub.download_url_to_file', 'import torch and call torch.hub.download_url_to_file(...)'),
  'unsafe_p4_fx_dotted.pt': refused('torch.fx.graph_module._exec_with_source', 'import torch and call torch.fx.graph_module._exec_with_source(...)'),
  'unsafe_p4_computed_name.pt': ['E_PICKLE_UNSAFE_GLOBAL', /\(STACK_GLOBAL\): STACK_GLOBAL takes its module and name from values made while loading/],
  'unsafe_raw_inst_os_system.pkl': refused('os.system', 'import os and call os.system(...)'),
  'unsafe_raw_inst_imaplib.pkl': refused('imaplib.IMAP4_stream', 'import imaplib and call imaplib.IMAP4_stream(...)'),
  'unsafe_raw_obj_popen.pkl': refused('subprocess.Popen', 'import subprocess and call subprocess.Popen(...)'),
  'unsafe_raw_obj_foreign.pkl': notListed('mypkg.models.Runner'),
  'unsafe_name_whitespace.pt': badName('"os .system"', 'it contains whitespace'),
  'unsafe_name_control_char.pt': badName('"o\\u0007s.system"', 'it contains control characters'),
  'unsafe_name_empty_step.pt': badName('"torch.hub..load"', 'it has an empty step'),
  'unsafe_name_newline.pt': badName('"collections.OrderedDict\\nos.system"', 'it contains control characters'),
};

/** What each file is given to: a file to inspect and convert; the HF folder is converted, its pytorch_model.bin inspected. */
function inputsOf(name: string): { inspect: string; convert: string } {
  const path = join(DIR, name);
  return name === 'unsafe_hf_folder' ? { inspect: join(path, 'pytorch_model.bin'), convert: path } : { inspect: path, convert: path };
}
EXPECTED['unsafe_hf_folder'] = refused('posix.system', 'import posix and call posix.system(...)');

const canaries = (): string[] => readdirSync('/tmp').filter((f) => f.startsWith(CANARY_PREFIX));
const box = new Sandbox();
afterAll(() => box.dispose());

describe('hostile pickles (the allow-list corpus) through the CLI', () => {
  test('at least 40 files, and every unsafe_* file of fixtures/hostile has an expectation', () => {
    const files = readdirSync(DIR).filter((f) => f.startsWith('unsafe_')).sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    expect(files.length).toBeGreaterThanOrEqual(40);
    expect(canaries()).toEqual([]);
  });

  for (const [name, [code, message]] of Object.entries(EXPECTED)) {
    test(`${name} → exit 3 ${code}, inspect and convert, < 2 s, < 300 MB, nothing written, nothing ran`, () => {
      const input = inputsOf(name);
      for (const args of [['inspect', input.inspect], ['convert', input.convert, '--out', 'out', '--quiet']]) {
        const r = box.run(args);
        const label = `${args[0]} ${name}: ${r.stderr}`;
        expect(r.status, label).toBe(EXIT_CODES.unsafe);
        expect(errorCode(r.stderr), label).toBe(code);
        expect(r.stderr, label).toMatch(message);
        expect(r.stderr.trim().split('\n'), label).toHaveLength(1);
        expect(r.ms, label).toBeLessThan(2000);
        expect(r.peakMiB, label).toBeLessThan(300);
        expect(r.leftovers, label).toEqual([]);
      }
      expect(canaries()).toEqual([]);
    });
  }

  test('verify --source with a hostile checkpoint stops with exit 3 (not a failed check)', () => {
    const r = box.run(['verify', fixture('hf/fairseq_base_dict'), '--source', join(DIR, 'unsafe_imaplib_imap4_stream.pt'), '--quiet']);
    expect(r.status, r.stderr).toBe(EXIT_CODES.unsafe);
    expect(errorCode(r.stderr)).toBe('E_PICKLE_UNSAFE_GLOBAL');
    expect(r.leftovers).toEqual([]);
  });
});

describe('--allow-global and --strict', () => {
  test('--allow-global keeps a checked foreign global as an inert record; inspect --json lists it', () => {
    const r = box.run(['inspect', join(DIR, 'unsafe_raw_obj_foreign.pkl'), '--allow-global', 'mypkg.models.Runner', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { allowedGlobals: string[]; globals: unknown[]; warnings: string[] };
    expect(report.allowedGlobals).toEqual(['mypkg.models.Runner']);
    expect(report.globals).toEqual([{ name: 'mypkg.models.Runner', count: 1, handling: 'user-allowed' }]);
    expect(report.warnings.join('\n')).toMatch(/1 global\(s\) outside the allow-list kept as inert records because of --allow-global \(mypkg\.models\.Runner\)/);
  });

  test('--allow-global cannot accept a known-dangerous name', () => {
    const r = box.run(['inspect', join(DIR, 'unsafe_raw_inst_os_system.pkl'), '--allow-global', 'os.system']);
    expect(r.status).toBe(EXIT_CODES.unsafe);
    expect(r.stderr).toMatch(/--allow-global cannot accept it/);
  });

  test('a malformed --allow-global is a usage error', () => {
    const r = box.run(['inspect', fixture('checkpoints/distilhubert.ckpt'), '--allow-global', 'no dots']);
    expect(r.status).toBe(EXIT_CODES.usage);
    expect(errorCode(r.stderr)).toBe('E_USAGE_ALLOW_GLOBAL');
  });

  test('convert records the --allow-global list in conversion_report.json; --strict is accepted and changes nothing', () => {
    const r = box.run(['convert', fixture('checkpoints/distilhubert.ckpt'), '--out', 'allowed', '--quiet', '--strict', '--allow-global', 'optimizers.MyScheduler', '--allow-global', 'mypkg.Other'], { keep: ['allowed'] });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(box.cwd, 'allowed', 'conversion_report.json'), 'utf8')) as { allowedGlobals: string[] };
    expect(report.allowedGlobals).toEqual(['mypkg.Other', 'optimizers.MyScheduler']);
    expect(existsSync(join(box.cwd, 'allowed', 'model.safetensors'))).toBe(true);
  });
});

describe('library: the HF-folder source reads pytorch_model.bin through the same allow-list', () => {
  test('readHfFolder refuses the hostile pytorch_model.bin before building any value', () => {
    let error: unknown;
    try {
      readHfFolder(join(DIR, 'unsafe_hf_folder')).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnsafeInputError);
    expect((error as UnsafeInputError).code).toBe('E_PICKLE_UNSAFE_GLOBAL');
    expect((error as Error).message).toMatch(/unsafe_hf_folder\/pytorch_model\.bin:archive\/data\.pkl at offset \d+ \(GLOBAL\): the pickle references posix\.system/);
    expect(canaries()).toEqual([]);
  });

  test('the clean pytorch_model.bin folder still reads', () => {
    const folder = readHfFolder(fixture('hf-bin/fairseq_base_dict'), { allowGlobals: [] });
    expect(folder.weightFiles).toEqual(['pytorch_model.bin']);
    expect(folder.model.tensors.size).toBeGreaterThan(10);
    folder.close();
  });
});
