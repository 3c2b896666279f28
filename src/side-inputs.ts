/**
 * Small files the user names beside the source (--dict): read once through the regular-file opener (no device, FIFO
 * or socket; a size cap that holds even when the file system reports a size of 0), then validated.
 */
import { decodeFairseqDict } from './mappings/tokenizer.js';
import { readInputBytes } from './node-files.js';

/** A fairseq dict.ltr.txt has one line per symbol: a few kB (a 100k-unit dictionary is about 1 MB). */
export const MAX_DICT_BYTES = 16 << 20;

/** The text of a --dict file: a regular file, UTF-8, a well-formed fairseq dictionary, within the cap. */
export function readDictFile(path: string): string {
  return decodeFairseqDict(readInputBytes(path, MAX_DICT_BYTES, { what: '--dict' }), `--dict ${path}`);
}
