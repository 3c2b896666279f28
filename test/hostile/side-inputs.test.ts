/**
 * Bad --dict and --labels: each a typed error with its exit code, its code and a message that names the line or the
 * label, before anything is written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { decodeFairseqDict, parseFairseqDict } from '../../src/mappings/tokenizer.js';
import { fixture } from '../helpers/fixtures.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';

const box = new Sandbox();
afterAll(() => box.dispose());

const GOOD_DICT = readFileSync(fixture('checkpoints/fairseq_ctc.dict.ltr.txt'));
const dictLines = GOOD_DICT.toString('utf8').trimEnd().split('\n');

/** Inputs live beside the sandbox's cwd/tmp/home, so that anything in those is a leftover. */
const inputs = join(box.root, 'inputs');
mkdirSync(inputs);

function dictFile(name: string, content: Uint8Array | string): string {
  const path = join(inputs, name);
  writeFileSync(path, content);
  return path;
}

function convertCtc(dict: string) {
  return box.run(['convert', fixture('checkpoints/fairseq_ctc.pt'), '--dict', dict, '--out', 'out', '-q']);
}

describe('--dict', () => {
  it('a directory is a file-system error (exit 6, E_IS_DIRECTORY), not an internal one', () => {
    mkdirSync(join(inputs, 'd'));
    const r = convertCtc(join(inputs, 'd'));
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.io, 'E_IS_DIRECTORY']);
    expect(r.stderr).toContain('is a directory; pass a --dict file');
    expect(r.leftovers).toEqual([]);
  });

  it('a FIFO is refused at once (no hang)', () => {
    const fifo = join(inputs, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const r = convertCtc(fifo);
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.io, 'E_NOT_REGULAR_FILE']);
    expect(r.ms).toBeLessThan(5000);
  });

  it('invalid UTF-8 is exit 4 (E_DICT_ENCODING) naming the line, never U+FFFD symbols', () => {
    const bytes = Buffer.concat([Buffer.from(`${dictLines[0]}\n${dictLines[1]}\n`), Buffer.from([0xc3, 0x28, 0x20, 0x35, 0x0a]), Buffer.from(dictLines.slice(2).join('\n'))]);
    const r = convertCtc(dictFile('utf8.txt', bytes));
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.corrupt, 'E_DICT_ENCODING']);
    expect(r.stderr).toContain('is not UTF-8 text (invalid bytes on line 3)');
    expect(r.leftovers).toEqual([]);
  });

  it('a NUL character, a duplicate symbol, an empty symbol, a malformed line: exit 4 (E_DICT_SYNTAX) with the line', () => {
    const cases: Array<[string, string, string]> = [
      ['nul.txt', [dictLines[0], 'a\u0000b 7', ...dictLines.slice(1)].join('\n'), 'dictionary line 2: the symbol contains a NUL character'],
      ['dup.txt', [...dictLines.slice(0, 3), dictLines[1], ...dictLines.slice(3)].join('\n'), `dictionary line 4: duplicate symbol ${JSON.stringify(dictLines[1]!.split(' ')[0])}`],
      ['empty.txt', [dictLines[0], ' 12', ...dictLines.slice(1)].join('\n'), 'dictionary line 2: empty symbol before the count'],
      ['bad.txt', [dictLines[0], dictLines[1], 'E x'].join('\n'), 'dictionary line 3 is not "<symbol> <count>": "E x"'],
    ];
    for (const [name, text, message] of cases) {
      const r = convertCtc(dictFile(name, text));
      expect([r.status, errorCode(r.stderr)], name).toEqual([EXIT_CODES.corrupt, 'E_DICT_SYNTAX']);
      expect(r.stderr, name).toContain(message);
      expect(r.leftovers, name).toEqual([]);
    }
  });

  it('verify reads --dict under the same rules', () => {
    const out = join(box.root, 'ctc-out');
    const c = box.run(['convert', fixture('checkpoints/fairseq_ctc.pt'), '--dict', fixture('checkpoints/fairseq_ctc.dict.ltr.txt'), '--out', out, '-q']);
    expect(c.status, c.stderr).toBe(0);
    const bad = dictFile('utf8.txt', Buffer.from([0x61, 0x20, 0x31, 0x0a, 0xff, 0x20, 0x31, 0x0a]));
    const r = box.run(['verify', out, '--source', fixture('checkpoints/fairseq_ctc.pt'), '--dict', bad]);
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.corrupt, 'E_DICT_ENCODING']);
    expect(r.stderr).toContain('line 2');
  });

  it('the decoder and parser, directly: a good dictionary still parses as fairseq builds it', () => {
    const symbols = parseFairseqDict(decodeFairseqDict(GOOD_DICT));
    expect(symbols.slice(0, 4)).toEqual(['<s>', '<pad>', '</s>', '<unk>']);
    expect(symbols.slice(4)).toEqual(dictLines.map((l) => l.split(' ')[0]));
    // fairseq's own escape hatch for a repeated symbol keeps working
    expect(parseFairseqDict(`a 1\na 2 #fairseq:overwrite\n`)).toEqual(['<s>', '<pad>', '</s>', '<unk>', 'a']);
  });
});

describe('--labels', () => {
  const superb = ['convert', fixture('checkpoints/superb_downstream.ckpt'), '--upstream', fixture('checkpoints/s3prl_hubert.pt'), '--out', 'ks', '-q'];

  it('duplicate labels are a usage error (exit 2, E_LABELS_DUPLICATE) naming them', () => {
    const r = box.run([...superb, '--labels', 'yes,no,up,yes,_unknown_']);
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.usage, 'E_LABELS_DUPLICATE']);
    expect(r.stderr).toContain('--labels names a class more than once: "yes" (positions 1 and 4)');
    expect(r.leftovers).toEqual([]);
  });

  it('an empty label is a usage error (exit 2, E_LABELS_EMPTY) naming its position', () => {
    for (const [labels, position] of [
      ['yes,,up,down,_unknown_', '2'],
      ['yes,no,up,down,', '5'],
      ['yes, ,up,down,x', '2'],
    ] as const) {
      const r = box.run([...superb, '--labels', labels]);
      expect([r.status, errorCode(r.stderr)], labels).toEqual([EXIT_CODES.usage, 'E_LABELS_EMPTY']);
      expect(r.stderr, labels).toContain(`--labels has an empty name at position ${position} (of 5)`);
    }
  });

  it('verify refuses them the same way', () => {
    const r = box.run(['verify', fixture('hf/superb_downstream'), '--labels', 'a,b,a']);
    expect([r.status, errorCode(r.stderr)]).toEqual([EXIT_CODES.usage, 'E_LABELS_DUPLICATE']);
  });

  it('distinct labels still convert, each in label2id', () => {
    const labels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
    const r = box.run([...superb, '--labels', labels.join(',')], { keep: ['ks'] });
    expect(r.status, r.stderr).toBe(0);
    const config = JSON.parse(readFileSync(join(box.cwd, 'ks', 'config.json'), 'utf8'));
    expect(config.label2id).toEqual(Object.fromEntries(labels.map((l, i) => [l, i])));
  });
});
