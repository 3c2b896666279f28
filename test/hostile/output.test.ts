/**
 * What a careless command line can do to the user's files, and what the tool leaves behind. Every refusal is exit 6
 * with its code, and the inputs are compared byte for byte (sha256 of every file) before and after.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { fixture, sha256 } from '../helpers/fixtures.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';

const box = new Sandbox();
afterAll(() => box.dispose());

/** sha256 of every file under `dir` (or of the file `dir`), by path relative to the sandbox; links as their target. */
function snapshot(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    if (statSync(p).isDirectory()) for (const name of readdirSync(p).sort()) walk(join(p, name));
    else out[relative(box.root, p)] = sha256(readFileSync(p));
  };
  walk(path);
  return out;
}

const data = join(box.cwd, 'data');
const hf = join(box.cwd, 'hf');

beforeEach(() => {
  for (const name of readdirSync(box.cwd)) rmSync(join(box.cwd, name), { recursive: true, force: true });
  mkdirSync(data);
  cpSync(fixture('checkpoints/fairseq_base_dict.pt'), join(data, 'x.pt'));
  cpSync(fixture('checkpoints/fairseq_ctc.pt'), join(data, 'ctc.pt'));
  cpSync(fixture('checkpoints/fairseq_ctc.dict.ltr.txt'), join(data, 'dict.ltr.txt'));
  cpSync(fixture('checkpoints/s3prl_hubert.pt'), join(data, 'upstream.pt'));
  writeFileSync(join(data, 'notes.txt'), 'the user keeps other things here\n');
  cpSync(fixture('hf/fairseq_base_dict'), hf, { recursive: true });
});

/** Runs the command, expects it refused with exit 6 and `code`, and every input untouched. */
function refused(args: string[], code: string, inputs: string[] = [data, hf]): string {
  const before = inputs.map(snapshot);
  const r = box.run(args, { keep: ['data', 'hf', 'link', 'mine', 'cache', 'note.txt', 'ours'] });
  expect(r.status, r.stderr).toBe(EXIT_CODES.io);
  expect(errorCode(r.stderr)).toBe(code);
  expect(inputs.map(snapshot)).toEqual(before);
  expect(r.leftovers).toEqual([]);
  // nothing was even started: no temporary sibling anywhere in the sandbox
  expect(Object.keys(snapshot(box.root)).filter((p) => /\.tmp-|\.old-/.test(p))).toEqual([]);
  return r.stderr;
}

describe('--out never replaces, deletes or writes into an input (exit 6, E_OUT_OVERLAPS_INPUT)', () => {
  it('--out is the checkpoint itself (with --force)', () => {
    const stderr = refused(['convert', 'data/x.pt', '--out', 'data/x.pt', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
    expect(stderr).toContain('--out data/x.pt is the checkpoint data/x.pt');
  });

  it('--out is the folder holding the checkpoint (with --force)', () => {
    const stderr = refused(['convert', 'data/x.pt', '--out', 'data', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
    expect(stderr).toContain('--out data contains the checkpoint data/x.pt');
  });

  it('--out is a parent of the checkpoint, through ..', () => {
    refused(['convert', 'data/x.pt', '--out', 'data/../data/', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
  });

  it('--out lies inside the checkpoint path', () => {
    expect(refused(['convert', 'data/x.pt', '--out', 'data/x.pt/out', '-q'], 'E_OUT_OVERLAPS_INPUT')).toContain('lies inside the checkpoint');
  });

  it('an HF folder given as both source and --out', () => {
    expect(refused(['convert', 'hf', '--out', 'hf', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT')).toContain('--out hf is the source folder hf');
  });

  it('--out inside an HF folder source', () => {
    expect(refused(['convert', 'hf', '--out', 'hf/with-onnx', '-q'], 'E_OUT_OVERLAPS_INPUT')).toContain('lies inside the source folder hf');
  });

  it('--out through a symbolic link to the checkpoint folder, and below it', () => {
    symlinkSync(data, join(box.cwd, 'link'));
    refused(['convert', 'data/x.pt', '--out', 'link', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
    refused(['convert', 'link/x.pt', '--out', 'data', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
  });

  it('--out is or contains --upstream or --dict', () => {
    refused(['convert', fixture('checkpoints/superb_downstream.ckpt'), '--upstream', 'data/upstream.pt', '--out', 'data', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT');
    expect(refused(['convert', 'data/ctc.pt', '--dict', 'data/dict.ltr.txt', '--out', 'data/dict.ltr.txt', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT')).toContain('is --dict data/dict.ltr.txt');
  });

  it('an HF cache snapshot: --out is the blobs folder its files link to', () => {
    const cache = join(box.cwd, 'cache');
    mkdirSync(join(cache, 'blobs'), { recursive: true });
    mkdirSync(join(cache, 'snapshots', 'rev'), { recursive: true });
    for (const name of readdirSync(hf)) {
      cpSync(join(hf, name), join(cache, 'blobs', `blob-${name}`));
      symlinkSync(join('..', '..', 'blobs', `blob-${name}`), join(cache, 'snapshots', 'rev', name));
    }
    refused(['convert', 'cache/snapshots/rev', '--out', 'cache/blobs', '--force', '-q'], 'E_OUT_OVERLAPS_INPUT', [cache]);
  });
});

describe('--force replaces only an empty folder or one hubert-convert wrote', () => {
  it('a foreign non-empty folder is refused with --force (E_OUTPUT_NOT_OURS), untouched', () => {
    mkdirSync(join(box.cwd, 'mine'));
    writeFileSync(join(box.cwd, 'mine', 'thesis.tex'), 'years of work');
    const stderr = refused(['convert', 'data/x.pt', '--out', 'mine', '--force', '-q'], 'E_OUTPUT_NOT_OURS', [data, join(box.cwd, 'mine')]);
    expect(stderr).toContain('remove it yourself');
  });

  it('a file at --out is refused with --force, untouched', () => {
    writeFileSync(join(box.cwd, 'note.txt'), 'keep me');
    refused(['convert', 'data/x.pt', '--out', 'note.txt', '--force', '-q'], 'E_OUTPUT_NOT_OURS', [data, join(box.cwd, 'note.txt')]);
  });

  it('a folder with a forged or foreign conversion_report.json is refused', () => {
    mkdirSync(join(box.cwd, 'mine'));
    writeFileSync(join(box.cwd, 'mine', 'conversion_report.json'), JSON.stringify({ schema: 'something-else', files: [] }));
    refused(['convert', 'data/x.pt', '--out', 'mine', '--force', '-q'], 'E_OUTPUT_NOT_OURS', [data, join(box.cwd, 'mine')]);
  });

  it('our own folder is replaced with --force; once the user adds a file to it, it is theirs', () => {
    const first = box.run(['convert', 'data/x.pt', '--out', 'ours', '-q'], { keep: ['data', 'hf', 'ours'] });
    expect(first.status, first.stderr).toBe(0);
    const again = box.run(['convert', 'data/x.pt', '--out', 'ours', '-q'], { keep: ['data', 'hf', 'ours'] });
    expect(again.status).toBe(EXIT_CODES.io);
    expect(errorCode(again.stderr)).toBe('E_OUTPUT_EXISTS');
    const forced = box.run(['convert', 'data/x.pt', '--out', 'ours', '--dtype', 'fp16', '--force', '-q'], { keep: ['data', 'hf', 'ours'] });
    expect(forced.status, forced.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(box.cwd, 'ours', 'conversion_report.json'), 'utf8')).dtype).toBe('fp16');
    expect(readdirSync(box.cwd).sort()).toEqual(['data', 'hf', 'ours']);
    writeFileSync(join(box.cwd, 'ours', 'my-notes.md'), 'mine now');
    const stderr = refused(['convert', 'data/x.pt', '--out', 'ours', '--force', '-q'], 'E_OUTPUT_NOT_OURS', [data, join(box.cwd, 'ours')]);
    expect(stderr).toContain('my-notes.md');
  });
});

describe('a Hub model id as the source', () => {
  it('is refused with exit 6 and how to download it first', () => {
    const r = box.run(['convert', 'facebook/hubert-base-ls960', '--out', 'out'], { keep: ['data', 'hf'] });
    expect(r.status).toBe(EXIT_CODES.io);
    expect(errorCode(r.stderr)).toBe('E_HUB_ID_NOT_LOCAL');
    expect(r.stderr).toContain('huggingface-cli download facebook/hubert-base-ls960 --local-dir hubert-base-ls960');
    expect(r.stderr).toContain('git clone https://huggingface.co/facebook/hubert-base-ls960');
    expect(r.leftovers).toEqual([]);
    const v = box.run(['verify', 'facebook/hubert-base-ls960'], { keep: ['data', 'hf'] });
    expect([v.status, errorCode(v.stderr)]).toEqual([EXIT_CODES.io, 'E_HUB_ID_NOT_LOCAL']);
  });

  it('a missing local path is still "does not exist"', () => {
    for (const source of ['data/missing.pt', 'data/missing', './facebook/hubert']) {
      const r = box.run(['convert', source, '--out', 'out'], { keep: ['data', 'hf'] });
      expect([r.status, errorCode(r.stderr)], source).toEqual([EXIT_CODES.io, 'E_NOT_FOUND']);
    }
  });
});

/** CI markers the runtime treats as "telemetry off": unset, so that the test sees what a user's machine would. */
const TELEMETRY_ENV_OFF = Object.fromEntries(
  ['ORT_DISABLE_TELEMETRY', 'ORT_RUNNING_UNIT_TESTS', 'CI', 'GITHUB_ACTIONS', 'TF_BUILD', 'GITLAB_CI', 'JENKINS_URL', 'TRAVIS', 'CIRCLECI', 'APPVEYOR', 'BUILDKITE', 'TEAMCITY_VERSION'].map((k) => [k, undefined]),
);

describe('no leftovers, no telemetry', () => {
  it('convert --onnx fp32 --verify and verify leave nothing in TMPDIR, HOME or the working directory; verify writes nothing', () => {
    const keep = { keep: ['data', 'hf', 'out'], env: TELEMETRY_ENV_OFF };
    const c = box.run(['convert', 'data/ctc.pt', '--dict', 'data/dict.ltr.txt', '--out', 'out', '--onnx', 'fp32', '--verify', '-q'], keep);
    expect(c.status, c.stderr).toBe(0);
    expect(c.leftovers).toEqual([]);
    const before = snapshot(join(box.cwd, 'out'));
    const mtimes = Object.keys(before).map((p) => statSync(join(box.root, p)).mtimeMs);
    const v = box.run(['verify', 'out', '--source', 'data/ctc.pt', '--dict', 'data/dict.ltr.txt', '-q'], keep);
    expect(v.status, v.stdout + v.stderr).toBe(0);
    expect(v.leftovers).toEqual([]);
    expect(snapshot(join(box.cwd, 'out'))).toEqual(before);
    expect(Object.keys(before).map((p) => statSync(join(box.root, p)).mtimeMs)).toEqual(mtimes);
  });
});

describe('no absolute local path in any written file', () => {
  it('the report, card, configs, tokenizer files and ONNX graphs name the source by file name only', () => {
    const out = join(box.cwd, 'out');
    const r = box.run(['convert', join(data, 'ctc.pt'), '--dict', join(data, 'dict.ltr.txt'), '--out', out, '--onnx', 'fp32,int8', '--verify', '-q'], { keep: ['data', 'hf', 'out'] });
    expect(r.status, r.stderr).toBe(0);
    const written = Object.keys(snapshot(out));
    expect(written.length).toBeGreaterThan(8);
    for (const p of written) {
      const text = readFileSync(join(box.root, p)).toString('latin1');
      for (const local of [box.root, data, box.tmp, box.home, '.tmp-']) expect(text.includes(local), `${p} mentions ${local}`).toBe(false);
    }
    const report = JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8'));
    expect(report.source).toMatchObject({ file: 'ctc.pt', sha256: sha256(readFileSync(join(data, 'ctc.pt'))) });
  });

  it('an HF folder source is named by its folder name, with every file it was read from', () => {
    const r = box.run(['convert', hf, '--out', 'out', '-q'], { keep: ['data', 'hf', 'out'] });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(box.cwd, 'out', 'conversion_report.json'), 'utf8'));
    const files = ['config.json', 'model.safetensors', 'preprocessor_config.json'].map((f) => {
      const bytes = readFileSync(join(hf, f));
      return { path: f, bytes: bytes.byteLength, sha256: sha256(bytes) };
    });
    const manifest = files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
    expect(report.source).toEqual({ file: 'hf', bytes: files.reduce((s, f) => s + f.bytes, 0), sha256: sha256(new TextEncoder().encode(manifest)), files, kind: 'hf-folder' });
    for (const p of Object.keys(snapshot(join(box.cwd, 'out')))) expect(readFileSync(join(box.root, p)).toString('latin1').includes(box.root), p).toBe(false);
  });
});

describe('remote-code keys never reach the output', () => {
  it('auto_map, custom_pipelines and a local _name_or_path are removed, listed in the report and warned about', () => {
    const config = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8'));
    writeFileSync(
      join(hf, 'config.json'),
      JSON.stringify({
        ...config,
        auto_map: { AutoModel: 'modeling_evil.EvilModel', AutoConfig: 'someone/repo--configuration_evil.EvilConfig' },
        custom_pipelines: { 'audio-classification': { impl: 'pipeline_evil.EvilPipeline' } },
        _name_or_path: join(box.home, 'models', 'hubert'),
      }),
    );
    const pre = JSON.parse(readFileSync(join(hf, 'preprocessor_config.json'), 'utf8'));
    writeFileSync(join(hf, 'preprocessor_config.json'), JSON.stringify({ ...pre, auto_map: { AutoFeatureExtractor: 'fe_evil.Extractor' } }));
    const r = box.run(['convert', 'hf', '--out', 'out'], { keep: ['data', 'hf', 'out'] });
    expect(r.status, r.stderr).toBe(0);
    const outConfig = JSON.parse(readFileSync(join(box.cwd, 'out', 'config.json'), 'utf8'));
    const outPre = JSON.parse(readFileSync(join(box.cwd, 'out', 'preprocessor_config.json'), 'utf8'));
    for (const key of ['auto_map', 'custom_pipelines', '_name_or_path']) expect(key in outConfig, key).toBe(false);
    expect('auto_map' in outPre).toBe(false);
    expect(outConfig.hidden_size).toBe(config.hidden_size);
    const report = JSON.parse(readFileSync(join(box.cwd, 'out', 'conversion_report.json'), 'utf8'));
    expect(report.removedConfigKeys.map((k: { file: string; key: string }) => `${k.file}:${k.key}`)).toEqual([
      'config.json:auto_map',
      'config.json:custom_pipelines',
      'config.json:_name_or_path',
      'preprocessor_config.json:auto_map',
    ]);
    expect(r.stdout).toContain('Warnings:');
    expect(r.stdout).toContain('config.json: removed "auto_map" (names Python code that transformers would load with trust_remote_code');
    const card = readFileSync(join(box.cwd, 'out', 'README.md'), 'utf8');
    expect(card).toContain('`auto_map` was removed from config.json');
    for (const p of Object.keys(snapshot(join(box.cwd, 'out')))) {
      const text = readFileSync(join(box.root, p), 'utf8');
      expect(text.includes('modeling_evil') || text.includes('pipeline_evil') || text.includes(box.home), p).toBe(false);
    }
  });
});

describe('token files are not settings files', () => {
  it('a vocabulary symbol spelled like a removed key stays in vocab.json', () => {
    const lines = readFileSync(join(data, 'dict.ltr.txt'), 'utf8').trimEnd().split('\n');
    lines[lines.length - 1] = `auto_map ${lines.at(-1)!.split(' ')[1]}`;
    writeFileSync(join(data, 'dict.ltr.txt'), `${lines.join('\n')}\n`);
    const r = box.run(['convert', 'data/ctc.pt', '--dict', 'data/dict.ltr.txt', '--out', 'out', '-q'], { keep: ['data', 'hf', 'out'] });
    expect(r.status, r.stderr).toBe(0);
    const vocab = JSON.parse(readFileSync(join(box.cwd, 'out', 'vocab.json'), 'utf8'));
    expect(vocab['auto_map']).toBe(lines.length + 4 - 1);
    expect(JSON.parse(readFileSync(join(box.cwd, 'out', 'conversion_report.json'), 'utf8')).removedConfigKeys).toEqual([]);
  });
});

it('the sandbox itself is clean after every case', () => {
  expect(existsSync(box.tmp) && readdirSync(box.tmp)).toEqual([]);
  expect(readdirSync(box.home)).toEqual([]);
});
