/**
 * A RIFF/WAVE reader for --audio: mono 16 kHz, PCM 16-bit or IEEE float 32-bit (also inside WAVE_FORMAT_EXTENSIBLE).
 * No resampling or down-mixing: a file the model cannot take as-is is refused with a message saying how to convert it.
 */
import { CorruptInputError, UnsupportedModelError } from '../errors.js';
import { readInputFile } from './read-input.js';

export const MODEL_SAMPLE_RATE = 16000;

const FORMAT_PCM = 1;
const FORMAT_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

export function readWav(path: string): Float32Array {
  return parseWav(readInputFile(path), path);
}

export function parseWav(bytes: Uint8Array, path = '<buffer>'): Float32Array {
  const bad = (what: string) => new CorruptInputError('E_VERIFY_WAV', `${path}: ${what}`, { file: path });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw bad('not a RIFF/WAVE file');
  let format: { code: number; channels: number; rate: number; bits: number } | null = null;
  let data: Uint8Array | null = null;
  for (let o = 12; o + 8 <= bytes.length; ) {
    const id = tag(o);
    const size = dv.getUint32(o + 4, true);
    const body = o + 8;
    if (body + size > bytes.length) {
      if (id === 'data') data = bytes.subarray(body); // some writers leave the size of a streamed data chunk wrong
      else throw bad(`the chunk at byte ${o} runs past the end of the file (truncated or corrupt)`);
      break;
    }
    if (id === 'fmt ') {
      if (size < 16) throw bad('fmt chunk too short');
      let code = dv.getUint16(body, true);
      if (code === FORMAT_EXTENSIBLE && size >= 40) code = dv.getUint16(body + 24, true); // sub-format GUID's first two bytes
      format = { code, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === 'data') {
      data = bytes.subarray(body, body + size);
    }
    o = body + size + (size & 1);
  }
  if (!format) throw bad('no fmt chunk');
  if (!data) throw bad('no data chunk');
  const fix = 'convert it first, e.g. `ffmpeg -i in.wav -ac 1 -ar 16000 -c:a pcm_s16le out.wav`';
  if (format.channels !== 1) throw new UnsupportedModelError('E_VERIFY_AUDIO_FORMAT', `${path} has ${format.channels} channels; the model takes mono audio: ${fix}`, { file: path });
  if (format.rate !== MODEL_SAMPLE_RATE) throw new UnsupportedModelError('E_VERIFY_AUDIO_FORMAT', `${path} is sampled at ${format.rate} Hz; the model takes ${MODEL_SAMPLE_RATE} Hz: ${fix}`, { file: path });
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (format.code === FORMAT_PCM && format.bits === 16) {
    const out = new Float32Array(data.byteLength >> 1);
    for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 32768;
    return out;
  }
  if (format.code === FORMAT_FLOAT && format.bits === 32) {
    const out = new Float32Array(data.byteLength >> 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  throw new UnsupportedModelError('E_VERIFY_AUDIO_FORMAT', `${path} is ${format.code === FORMAT_PCM ? `${format.bits}-bit PCM` : `format ${format.code}/${format.bits}-bit`}; supported: 16-bit PCM or 32-bit float: ${fix}`, { file: path });
}
