import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CorruptInputError, HubertConvertError, UnsafeInputError } from '../../src/errors.js';
import { readCheckpoint } from '../../src/readers/index.js';

const DIR = join(import.meta.dirname, '../../fixtures/hostile');
const CANARY = '/tmp/hubert_convert_canary';

// file → [error class, code, message pattern]
type ErrorClass = new (...args: never[]) => HubertConvertError;
const EXPECTED: Record<string, [ErrorClass, string, RegExp]> = {
  'central_directory_bad_offset.pt': [CorruptInputError, 'E_ZIP_CORRUPT', /record 'archive\/\.format_version' claims 1 bytes at offset \d+, beyond the data area/],
  'corrupt_central_directory.pt': [CorruptInputError, 'E_ZIP_CORRUPT', /central directory lists 1 entries but the end record says 7/],
  'deep_nesting.pkl': [CorruptInputError, 'E_PICKLE_LIMIT', /deep_nesting\.pkl at offset \d+: value nesting exceeds limits\.maxDepth=1000/],
  'deflated_data_pkl.pt': [CorruptInputError, 'E_ZIP_COMPRESSED', /record 'archive\/data\.pkl' is compressed \(zip method 8\)/],
  'empty.pt': [CorruptInputError, 'E_EMPTY_FILE', /empty\.pt is empty \(0 bytes\)/],
  'git_lfs_pointer.pt': [CorruptInputError, 'E_GIT_LFS_POINTER', /git-lfs pointer file.*run `git lfs pull`/],
  'html_error_page.pt': [CorruptInputError, 'E_NOT_A_CHECKPOINT', /looks like an HTML page \(probably an error page from a failed download\)/],
  'huge_binbytes.pkl': [CorruptInputError, 'E_PICKLE_TRUNCATED', /at offset 2 \(BINBYTES\): needs 4294967280 more bytes but only 3 remain/],
  'huge_binunicode.pkl': [CorruptInputError, 'E_PICKLE_TRUNCATED', /at offset 2 \(BINUNICODE\): needs 4294967280 more bytes but only 3 remain/],
  'huge_long4.pkl': [CorruptInputError, 'E_PICKLE_LIMIT', /at offset 2: a 2147483647-byte integer exceeds limits\.maxBigIntBytes=1024/],
  'legacy_os_system.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /sys_info .*\(GLOBAL\): the pickle references os\.system/],
  'raw_eval_stack_global.pkl': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /\(STACK_GLOBAL\): the pickle references builtins\.eval/],
  'raw_popen_inst.pkl': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /\(INST\): the pickle references subprocess\.Popen/],
  'safetensors_renamed.pt': [CorruptInputError, 'E_ALREADY_SAFETENSORS', /is already a safetensors file.*pass its folder/],
  'short_storage_record.pt': [CorruptInputError, 'E_STORAGE_SIZE', /storage record 'archive\/data\/0' holds 40 bytes but the pickle declares 1024/],
  'truncated.pt': [CorruptInputError, 'E_ZIP_NO_DIRECTORY', /end-of-central-directory record not found \(truncated download/],
  'view_out_of_bounds.pt': [CorruptInputError, 'E_TENSOR_OUT_OF_BOUNDS', /tensor w: F32\[4, 4\] with strides \[4, 1\] at offset 10 needs bytes up to 104 but storage '0' has 64 bytes/],
  'zip_deep_nesting.pt': [CorruptInputError, 'E_PICKLE_LIMIT', /data\.pkl at offset \d+: value nesting exceeds limits\.maxDepth=1000/],
  'zip_getattr_import.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /data\.pkl at offset 2 \(GLOBAL\): the pickle references builtins\.getattr/],
  'zip_nt_system.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /the pickle references nt\.system/],
  'zip_os_system.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /data\.pkl at offset 2 \(GLOBAL\): the pickle references os\.system/],
  'zip_os_system_nested.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /data\.pkl at offset \d+ \(GLOBAL\): the pickle references os\.system/],
  'zip_pickle_loads_nested.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /the pickle references pickle\.loads/],
  'zip_posix_system.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /the pickle references posix\.system/],
  'zip_runpy_run_code.pt': [UnsafeInputError, 'E_PICKLE_UNSAFE_GLOBAL', /the pickle references runpy\._run_code/],
};

describe('hostile fixtures', () => {
  beforeAll(() => rmSync(CANARY, { force: true }));

  test('every hostile file has an expectation', () => {
    // inputs/ holds the resource and file-system corpus (test/hostile/inputs.test.ts); unsafe_* is the allow-list corpus
    // of fixtures/gen/hostile_pickles.py, tested through the CLI in test/hostile/pickle.test.ts
    expect(readdirSync(DIR).filter((f) => f !== 'README.md' && f !== 'inputs' && !f.startsWith('unsafe_')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, [cls, code, message]] of Object.entries(EXPECTED)) {
    test(`${file} → ${code} within a second`, () => {
      const started = performance.now();
      let error: unknown;
      try {
        readCheckpoint(join(DIR, file)).close();
      } catch (e) {
        error = e;
      }
      expect(performance.now() - started).toBeLessThan(1000);
      expect(error).toBeInstanceOf(cls);
      expect((error as HubertConvertError).code).toBe(code);
      expect((error as Error).message).toMatch(message);
    });
  }

  test('nothing ran: the canary file was never created', () => {
    expect(existsSync(CANARY)).toBe(false);
  });
});
