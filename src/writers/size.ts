/**
 * Sizes such as `--max-shard-size 5GB`, read the way Hugging Face reads them: KB/MB/GB/TB are decimal (GB = 10^9,
 * huggingface_hub's parse_size_to_int, which save_pretrained uses, case-insensitive, decimals allowed and floored),
 * KiB/MiB/GiB/TiB are binary (GiB = 2^30, transformers' convert_file_size_to_int). A plain number is bytes.
 * transformers' older helper read a lowercase "b" (e.g. "5Gb") as bits; save_pretrained no longer does, nor do we.
 */
import { UsageError } from '../errors.js';

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** Bytes for a size string or number; a UsageError (E_SIZE_FORMAT) when it is not a positive size. */
export function parseSize(size: string | number): number {
  const fail = () =>
    new UsageError('E_SIZE_FORMAT', `size ${JSON.stringify(size)} is not valid: use a positive number of bytes or a number with a unit, e.g. "5GB", "500MB", "1.5GiB"`, { size });
  if (typeof size === 'number') {
    if (!Number.isSafeInteger(size) || size <= 0) throw fail();
    return size;
  }
  const match = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/i.exec(size);
  const multiplier = match ? UNITS[match[2]!.toUpperCase()] : undefined;
  if (!match || multiplier === undefined) throw fail();
  const bytes = Math.floor(Number(match[1]) * multiplier);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw fail();
  return bytes;
}
