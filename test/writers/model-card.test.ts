import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConvertOptions, convert } from '../../src/convert.js';
import { VERSION } from '../../src/version.js';
import { GITATTRIBUTES } from '../../src/writers/model-card.js';
import { fixture, sha256 } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-card-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The YAML front matter of a model card, for the subset the card writes: `key: value` scalars and `key:` followed by
 * `- item` lines. Anything else in the block fails the parse, so the test also pins the format down.
 */
function frontMatter(card: string): Record<string, string | string[]> {
  const lines = card.split('\n');
  expect(lines[0]).toBe('---');
  const end = lines.indexOf('---', 1);
  expect(end).toBeGreaterThan(0);
  const out: Record<string, string | string[]> = {};
  let list: string[] | undefined;
  for (const line of lines.slice(1, end)) {
    const item = /^- ([a-z0-9-]+)$/.exec(line);
    const scalar = /^([a-z_]+): ([a-z0-9-]+)$/.exec(line);
    const listKey = /^([a-z_]+):$/.exec(line);
    if (item && list) list.push(item[1]!);
    else if (scalar) {
      out[scalar[1]!] = scalar[2]!;
      list = undefined;
    } else if (listKey) out[listKey[1]!] = list = [];
    else throw new Error(`unexpected front-matter line: ${JSON.stringify(line)}`);
  }
  return out;
}

const CASES: Array<{ name: string; file: string; options: Omit<ConvertOptions, 'out'>; pipeline: string; family: string[] }> = [
  { name: 'base', file: 'fairseq_base_dict.pt', options: {}, pipeline: 'feature-extraction', family: ['fairseq'] },
  { name: 'ctc', file: 'fairseq_ctc.pt', options: { dict: fixture('checkpoints/fairseq_ctc.dict.ltr.txt') }, pipeline: 'automatic-speech-recognition', family: ['fairseq'] },
  {
    name: 'ks',
    file: 'superb_downstream.ckpt',
    options: { upstream: fixture('checkpoints/s3prl_hubert.pt') },
    pipeline: 'audio-classification',
    family: ['s3prl', 'superb'],
  },
  { name: 'distil', file: 'distilhubert.ckpt', options: {}, pipeline: 'feature-extraction', family: ['s3prl', 'distilhubert'] },
];

describe('the model card (README.md) and .gitattributes of every folder', () => {
  for (const c of CASES) {
    it(`${c.name}: front matter, source, tool, files`, async () => {
      const out = join(work, c.name);
      const { report } = await convert(fixture(`checkpoints/${c.file}`), { out, ...c.options });
      const card = readFileSync(join(out, 'README.md'), 'utf8');
      expect(frontMatter(card)).toEqual({ library_name: 'transformers', pipeline_tag: c.pipeline, tags: ['hubert', 'audio', ...c.family] });
      const source = readFileSync(fixture(`checkpoints/${c.file}`));
      expect(card).toContain(`| weights | \`${c.file}\` | ${source.byteLength} | \`${sha256(source)}\` |`);
      expect(card).toContain(`by hubert-convert ${VERSION}`);
      expect(card).toContain(`(\`${report.architecture}\`: `);
      for (const f of report.files.filter((f) => f.path !== 'README.md')) expect(card).toContain(`| \`${f.path}\` |`);
      expect(card).not.toContain(fixture(''));
      expect(card).not.toContain(work);
      if (c.name === 'ks') {
        expect(card).toContain('Classes (in index order): `yes`, `no`, `up`, `down`, `left`, `right`, `on`, `off`, `stop`, `go`, `_unknown_`, `_silence_`.');
        const up = readFileSync(fixture('checkpoints/s3prl_hubert.pt'));
        expect(card).toContain(`| upstream | \`s3prl_hubert.pt\` | ${up.byteLength} | \`${sha256(up)}\` |`);
      }
      expect(card).toContain('Not verified at conversion time');
      expect(readFileSync(join(out, '.gitattributes'), 'utf8')).toBe(GITATTRIBUTES);
    });
  }

  it('the .gitattributes puts every large binary file in LFS', () => {
    expect(GITATTRIBUTES.split('\n').filter(Boolean)).toEqual([
      '*.safetensors filter=lfs diff=lfs merge=lfs -text',
      '*.onnx filter=lfs diff=lfs merge=lfs -text',
      '*.onnx_data filter=lfs diff=lfs merge=lfs -text',
    ]);
  });

  it('the card and .gitattributes are in the report with their checksums; the card carries the ONNX figures and the verification', async () => {
    const out = join(work, 'verified');
    const { report, verification } = await convert(fixture('checkpoints/fairseq_large_dictconfig.pt'), { out, onnx: ['fp32', 'int8'], verify: true });
    expect(verification?.passed).toBe(true);
    const saved = JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8'));
    expect(saved).toEqual(report);
    for (const name of ['README.md', '.gitattributes']) {
      const bytes = readFileSync(join(out, name));
      expect(report.files.find((f) => f.path === name)).toEqual({ path: name, bytes: bytes.byteLength, sha256: sha256(bytes) });
    }
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(frontMatter(card).tags).toEqual(['hubert', 'audio', 'fairseq', 'onnx']);
    const onnx = report.onnx as Array<{ variant: string; file: string; accuracy: { maxAbs: number; cosine: number } }>;
    for (const o of onnx) expect(card).toContain(`| ${o.variant} | \`${o.file}\` | ${o.accuracy.maxAbs.toExponential(2)} | ${o.accuracy.cosine.toFixed(6)} |`);
    expect(card).toContain('Verification (`hubert-convert verify`, before the folder was published): **passed**.');
    for (const check of verification!.checks.filter((c) => c.skipped === undefined)) expect(card).toContain(`- ${check.name}: passed, `);
    expect(card).toContain('tensors identical to fairseq_large_dictconfig.pt');
  });

  it('an HF folder source: named by its folder, no family tag', async () => {
    const out = join(work, 'from-hf');
    await convert(fixture('hf/fairseq_ctc'), { out });
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(frontMatter(card)).toEqual({ library_name: 'transformers', pipeline_tag: 'automatic-speech-recognition', tags: ['hubert', 'audio'] });
    expect(card).toContain('| weights | `fairseq_ctc` |');
  });
});
