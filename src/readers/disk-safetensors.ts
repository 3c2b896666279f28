/** readSafetensors for paths: the file is opened by src/node-files.ts (regular files only), then parsed. */
import type { ByteSource } from '../byte-source.js';
import { openInputFile } from '../node-files.js';
import { type SafetensorsFile, parseSafetensors } from './safetensors.js';

export function readSafetensors(input: string | Uint8Array | ByteSource): SafetensorsFile {
  if (typeof input !== 'string') return parseSafetensors(input, { owned: input instanceof Uint8Array });
  return parseSafetensors(openInputFile(input, { what: 'safetensors file', openCode: 'E_SAFETENSORS_OPEN' }), { owned: true });
}
