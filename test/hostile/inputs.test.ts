/**
 * The resource and file-system rules, tried as an attacker would: the built CLI runs on each hostile input in a
 * sandbox (own cwd, TMPDIR, HOME) and must end in its documented exit code and error code, within 2 s and 300 MB,
 * leaving nothing behind. Committed inputs come from fixtures/gen/hostile_inputs.py; what cannot be committed
 * (FIFOs, links to devices, multi-megabyte headers, the Hugging Face cache layout) is made here.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';
import { toHuggingFace } from '../../src/mappings/index.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { checkConvertedTensors } from '../../src/readers/lazy-tensor.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';

const INPUTS = fixture('hostile/inputs');
const HF = fixture('hf/fairseq_base_dict');
const CANARY = '/tmp/hubert_convert_canary';
const MAX_MS = 2000;
const MAX_MIB = 300;

const box = new Sandbox();
afterAll(() => box.dispose());
/** Where this file builds its inputs: inside the sandbox root, outside the cwd/tmp/home the leftover check reads. */
const made = join(box.root, 'made');
mkdirSync(made);

interface Expectation {
  args: string[];
  exit: keyof typeof EXIT_CODES;
  code: string | null;
  message: RegExp;
  /** cwd entries the run may create (a successful --out). */
  keep?: string[];
}

function expectRun({ args, exit, code, message, keep }: Expectation) {
  const r = box.run(args, { timeoutMs: 20_000, ...(keep ? { keep } : {}) });
  expect(r.status, r.stderr).toBe(EXIT_CODES[exit]);
  expect(errorCode(r.stderr)).toBe(code);
  expect(r.stderr + r.stdout).toMatch(message);
  expect(r.ms).toBeLessThan(MAX_MS);
  expect(r.peakMiB).toBeLessThan(MAX_MIB);
  expect(r.leftovers).toEqual([]);
  expect(existsSync(CANARY)).toBe(false);
  return r;
}

const input = (name: string) => join(INPUTS, name);

/** A copy of the tiny HF folder, with `edit` applied. */
function hfFolder(name: string, edit: (dir: string) => void): string {
  const dir = join(made, name);
  cpSync(HF, dir, { recursive: true });
  edit(dir);
  return dir;
}

function safetensorsWithHeader(header: string): Uint8Array {
  const json = Buffer.from(header, 'utf8');
  const out = Buffer.alloc(8 + json.byteLength);
  out.writeBigUInt64LE(BigInt(json.byteLength), 0);
  json.copy(out, 8);
  return out;
}

function mkfifo(path: string): string {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path}: ${r.stderr}`);
  return path;
}

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('hostile inputs: the committed corpus', () => {
  test('the corpus holds what the generator lists', () => {
    const listed = [...readFileSync(join(INPUTS, 'README.md'), 'utf8').matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    expect(readdirSync(INPUTS).filter((f) => f !== 'README.md').sort()).toEqual(listed.sort());
  });

  const cases: Array<[string, Expectation]> = [
    ['stride-0 weights with a matching config: refused before anything is written', {
      args: ['convert', input('stride0_weights.pt'), '--out', 'out'], exit: 'corrupt', code: 'E_TENSOR_BROADCAST',
      message: /tensor model\/\S+ \(→ \S+\): F32\[\d+(, \d+)*\] with strides \[0(, 0)*\] is a broadcast view \(stride 0 on dimension 0 of size \d+\).*distinct bytes of the file/,
    }],
    ['stride-0 weights: inspect still shows the table and says why it would not convert', {
      args: ['inspect', input('stride0_weights.pt')], exit: 'ok', code: null,
      message: /encoder\.layers\.0\.fc1\.weight[\s\S]*would not convert: tensor .* is a broadcast view/,
    }],
    ['a 10^12-element view: inspect shows the table, values not scanned (no internal error)', {
      args: ['inspect', input('view_1e12_elements.pt')], exit: 'ok', code: null,
      message: /1000000, 1000000[\s\S]*w is a broadcast or overlapping view \(1000000000000 elements over fewer bytes\); its values were not scanned/,
    }],
    ['a 10^12-element view that is not a model: convert says so', {
      args: ['convert', input('view_1e12_elements.pt'), '--out', 'out'], exit: 'unsupported', code: 'E_UNKNOWN_SOURCE', message: /not a checkpoint kind/,
    }],
    ['an overlapping view (strides (1, 1))', {
      args: ['convert', input('overlap_weight.pt'), '--out', 'out'], exit: 'corrupt', code: 'E_TENSOR_OVERLAP',
      message: /tensor model\/encoder\.layers\.0\.fc1\.weight .*F32\[64, 32\] with strides \[1, 1\] is an overlapping view/,
    }],
    ['two converted tensors over one storage', {
      args: ['convert', input('shared_storage_weights.pt'), '--out', 'out'], exit: 'corrupt', code: 'E_TENSOR_OVERLAP',
      message: /tensor model\/encoder\.layers\.1\.fc1\.weight .* shares bytes of storage '\d+' with tensor model\/encoder\.layers\.0\.fc1\.weight/,
    }],
    ['conv_feature_layers of 34,000 characters: refused by length, before expanding', {
      args: ['convert', input('conv_layers_long.pt'), '--out', 'out'], exit: 'unsupported', code: 'E_CONV_LAYERS_SYNTAX', message: /\(34009 characters\) .*longer than 10000 characters/,
    }],
    ['conv_feature_layers whose terms pass the cap but whose sum does not', {
      args: ['convert', input('conv_layers_total.pt'), '--out', 'out'], exit: 'unsupported', code: 'E_CONV_LAYERS_SYNTAX', message: /more than 1000 layers/,
    }],
    ['one storage key used with two dtypes', {
      args: ['inspect', input('storage_two_dtypes.pt')], exit: 'corrupt', code: 'E_TORCH_STORAGE_DTYPE_CONFLICT',
      message: /storage record 'archive\/data\/0' is used as F32 and as I32; torch would read both as F32/,
    }],
    ['a zip whose local header names another file than its central directory', {
      args: ['inspect', input('zip_name_mismatch.pt')], exit: 'corrupt', code: 'E_ZIP_NAME_MISMATCH',
      message: /the central directory names record 'archive\/data\.pkl' but its local header names another file/,
    }],
    ['a corrupt WAV (fmt chunk past the end)', {
      args: ['verify', HF, '--audio', input('wav_truncated_fmt.wav')], exit: 'corrupt', code: 'E_VERIFY_WAV', message: /the chunk at byte 12 runs past the end of the file/,
    }],
    ['a WAV without data', {
      args: ['verify', HF, '--audio', input('wav_no_data.wav')], exit: 'corrupt', code: 'E_VERIFY_WAV', message: /no data chunk/,
    }],
    ['a stereo 44.1 kHz WAV', {
      args: ['verify', HF, '--audio', input('wav_stereo_44k.wav')], exit: 'unsupported', code: 'E_VERIFY_AUDIO_FORMAT', message: /has 2 channels; the model takes mono audio/,
    }],
    ['a 24-bit WAV', {
      args: ['verify', HF, '--audio', input('wav_pcm24.wav')], exit: 'unsupported', code: 'E_VERIFY_AUDIO_FORMAT', message: /is 24-bit PCM; supported: 16-bit PCM or 32-bit float/,
    }],
    ['an object-dtype .npy (its pickle would run the canary): refused without unpickling', {
      args: ['verify', HF, '--audio', input('npy_object.npy')], exit: 'unsafe', code: 'E_VERIFY_NPY_OBJECT', message: /dtype \|O is an array of Python objects.*refused without reading it/,
    }],
    ['a .npy header that says <f4 then |O (numpy keeps the last)', {
      args: ['verify', HF, '--audio', input('npy_smuggled_descr.npy')], exit: 'corrupt', code: 'E_VERIFY_NPY', message: /key 'descr' appears twice/,
    }],
    ["a .npy descr '<f4' '|O' (one string to Python)", {
      args: ['verify', HF, '--audio', input('npy_concatenated_descr.npy')], exit: 'corrupt', code: 'E_VERIFY_NPY', message: /the header is not the dict numpy writes/,
    }],
    ['a structured-dtype .npy', {
      args: ['verify', HF, '--audio', input('npy_structured.npy')], exit: 'unsupported', code: 'E_VERIFY_NPY_DTYPE', message: /a structured dtype/,
    }],
    ['an object .npy as --expected', {
      args: ['verify', HF, '--expected', input('npy_object.npy')], exit: 'unsafe', code: 'E_VERIFY_NPY_OBJECT', message: /refused without reading it/,
    }],
  ];
  for (const [name, expectation] of cases) test(name, () => void expectRun(expectation));

  test('a 10^12-element stride-0 final_proj is refused unread: it is kept as the projection head now, so held to the distinct-bytes rule', () => {
    expectRun({ args: ['convert', input('stride0_dropped_huge.pt'), '--out', 'out', '--quiet'], exit: 'corrupt', code: 'E_TENSOR_BROADCAST', message: /final_proj\.weight.*broadcast view/ });
  });

  test('a dropped 10^12-element stride-0 view costs nothing: the model converts', () => {
    // the same view as label_embs_concat, which is still dropped: never read
    const c = readCheckpoint(input('stride0_dropped_huge.pt'));
    const model = (c.root as Map<string, Map<string, unknown>>).get('model')!;
    model.set('label_embs_concat', model.get('final_proj.weight'));
    model.delete('final_proj.weight');
    model.delete('final_proj.bias');
    // 4 TB if it were read: converting at all shows it never is
    const conversion = toHuggingFace(c);
    checkConvertedTensors(conversion);
    expect(conversion.model.projection).toBeUndefined();
    expect(conversion.dropped.map((d) => d.source)).toContain('model/label_embs_concat');
    c.close();
  });
});

describe('hostile inputs: made in the sandbox', () => {
  test('config.json linked to /dev/zero', () => {
    const dir = hfFolder('config-dev-zero', (d) => {
      const config = join(d, 'config.json');
      rmSync(config);
      symlinkSync('/dev/zero', config);
    });
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /config\.json is a character device, not a regular file/ });
  });

  test('model.safetensors.index.json linked to /dev/zero', () => {
    const dir = hfFolder('index-dev-zero', (d) => {
      rmSync(join(d, 'model.safetensors'));
      symlinkSync('/dev/zero', join(d, 'model.safetensors.index.json'));
    });
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /model\.safetensors\.index\.json is a character device/ });
  });

  test('a FIFO as model.safetensors: refused, never a hang', () => {
    const dir = hfFolder('fifo-weights', (d) => {
      rmSync(join(d, 'model.safetensors'));
      mkfifo(join(d, 'model.safetensors'));
    });
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /model\.safetensors is a FIFO \(named pipe\), not a regular file/ });
  });

  test('a FIFO as the checkpoint', () => {
    expectRun({ args: ['inspect', mkfifo(join(made, 'fifo.pt'))], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /fifo\.pt is a FIFO/ });
  });

  test('a foreign file as model.safetensors: its bytes are never quoted as a header length', () => {
    const dir = hfFolder('foreign-header', (d) => {
      rmSync(join(d, 'model.safetensors'));
      symlinkSync('/etc/passwd', join(d, 'model.safetensors'));
    });
    const r = expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'corrupt', code: 'E_SAFETENSORS_HEADER_TOO_LARGE', message: /the header length field \(the first 8 bytes\) asks for more than/ });
    const first8 = readFileSync('/etc/passwd').subarray(0, 8);
    expect(r.stderr).not.toContain(first8.readBigUInt64LE(0).toString());
    expect(r.stderr).not.toContain(first8.toString('latin1').split(':')[0]);
  });

  test('a safetensors header of 2 million nested arrays: a typed error, not a stack overflow', () => {
    const dir = hfFolder('deep-header', (d) => writeFileSync(join(d, 'model.safetensors'), safetensorsWithHeader(`{"a":${deep(2_000_000)}}`)));
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'corrupt', code: 'E_SAFETENSORS_HEADER_JSON', message: /the header nests deeper than a safetensors header can \(nesting deeper than 4 levels\)/ });
  });

  test('a safetensors header of 700,000 empty tensors: refused by the entry cap, in bounded memory', () => {
    const entries = Array.from({ length: 700_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const dir = hfFolder('many-entries', (d) => writeFileSync(join(d, 'model.safetensors'), safetensorsWithHeader(`{${entries.join(',')}}`)));
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'corrupt', code: 'E_SAFETENSORS_TOO_MANY_TENSORS', message: /the limit is 100000 tensors per file/ });
  });

  test('config.json of 2 million nested arrays', () => {
    const dir = hfFolder('deep-config', (d) => writeFileSync(join(d, 'config.json'), `{"a":${deep(2_000_000)}}`));
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'corrupt', code: 'E_BAD_JSON', message: /config\.json is not valid JSON \(nesting deeper than 32 levels\)/ });
  });

  test('model.safetensors.index.json of 2 million nested arrays', () => {
    const dir = hfFolder('deep-index', (d) => {
      rmSync(join(d, 'model.safetensors'));
      writeFileSync(join(d, 'model.safetensors.index.json'), `{"weight_map":${deep(2_000_000)}}`);
    });
    expectRun({ args: ['convert', dir, '--out', 'out'], exit: 'corrupt', code: 'E_SAFETENSORS_INDEX', message: /not a valid UTF-8 JSON file \(nesting deeper than 3 levels\)/ });
  });

  test('--dict linked to /dev/zero', () => {
    const link = join(made, 'dict.ltr.txt');
    symlinkSync('/dev/zero', link);
    expectRun({ args: ['convert', fixture('checkpoints/fairseq_ctc.pt'), '--dict', link, '--out', 'out'], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /dict\.ltr\.txt is a character device/ });
  });

  test('--upstream a FIFO', () => {
    const fifo = mkfifo(join(made, 'upstream.pt'));
    expectRun({ args: ['convert', fixture('checkpoints/superb_downstream.ckpt'), '--upstream', fifo, '--out', 'out'], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /upstream\.pt is a FIFO/ });
  });

  test('--audio linked to /dev/zero, --expected a FIFO', () => {
    const link = join(made, 'zero.wav');
    symlinkSync('/dev/zero', link);
    expectRun({ args: ['verify', HF, '--audio', link], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /zero\.wav is a character device/ });
    expectRun({ args: ['verify', HF, '--expected', mkfifo(join(made, 'expected.npy'))], exit: 'io', code: 'E_NOT_REGULAR_FILE', message: /expected\.npy is a FIFO/ });
  });
});

describe('symlinks to regular files keep working', () => {
  test('the Hugging Face cache layout (snapshots/<rev>/x -> ../../blobs/<sha>) converts', () => {
    const repo = join(made, 'models--x--hubert');
    const blobs = join(repo, 'blobs');
    const snapshot = join(repo, 'snapshots', '0123abcd');
    mkdirSync(blobs, { recursive: true });
    mkdirSync(snapshot, { recursive: true });
    for (const [i, file] of readdirSync(HF).entries()) {
      const blob = `blob${i}`;
      copyFileSync(join(HF, file), join(blobs, blob));
      symlinkSync(`../../blobs/${blob}`, join(snapshot, file));
    }
    const r = expectRun({ args: ['convert', snapshot, '--out', 'out', '--quiet'], exit: 'ok', code: null, message: /^/, keep: ['out'] });
    const out = join(r.root, 'cwd/out/model.safetensors');
    expect(statSync(out).size).toBeGreaterThan(100_000);
    rmSync(join(r.root, 'cwd/out'), { recursive: true });
  });
});
