import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CorruptInputError, UnsupportedModelError, UsageError } from '../../src/errors.js';
import { audioInput, builtInInputs, normalizeInPlace, speechLikeSignal } from '../../src/verify/inputs.js';
import { parseNpy } from '../../src/verify/npy.js';
import { parseWav } from '../../src/verify/wav.js';

function wav(opts: { format: number; channels: number; rate: number; bits: number; data: Uint8Array; extensible?: boolean }): Uint8Array {
  const fmtSize = opts.extensible ? 40 : 16;
  const out = new Uint8Array(12 + 8 + fmtSize + 8 + opts.data.length);
  const dv = new DataView(out.buffer);
  const tag = (o: number, s: string) => [...s].forEach((ch, i) => (out[o + i] = ch.charCodeAt(0)));
  tag(0, 'RIFF');
  dv.setUint32(4, out.length - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  dv.setUint32(16, fmtSize, true);
  dv.setUint16(20, opts.extensible ? 0xfffe : opts.format, true);
  dv.setUint16(22, opts.channels, true);
  dv.setUint32(24, opts.rate, true);
  dv.setUint32(28, (opts.rate * opts.channels * opts.bits) / 8, true);
  dv.setUint16(32, (opts.channels * opts.bits) / 8, true);
  dv.setUint16(34, opts.bits, true);
  if (opts.extensible) {
    dv.setUint16(36, 22, true);
    dv.setUint16(44, opts.format, true); // sub-format GUID starts with the format code
  }
  const d = 20 + fmtSize;
  tag(d, 'data');
  dv.setUint32(d + 4, opts.data.length, true);
  out.set(opts.data, d + 8);
  return out;
}

function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(data, 10 + header.length);
  return out;
}

describe('speech-like test signal', () => {
  it('is deterministic, seed-dependent, finite and peak-normalised to 0.6', () => {
    const a = speechLikeSignal(16000, 1);
    const again = speechLikeSignal(16000, 1);
    expect(again.every((x, i) => x === a[i])).toBe(true); // (element loop: toEqual on 16k floats is slow)
    const b = speechLikeSignal(16000, 2);
    expect(b.filter((x, i) => x !== a[i]).length).toBeGreaterThan(15000);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(a.reduce((m, x) => Math.max(m, Math.abs(x)), 0)).toBeCloseTo(0.6, 6);
  });

  it('normalises like Wav2Vec2FeatureExtractor over the real samples and keeps padding at 0', () => {
    const x = Float32Array.from([1, 2, 3, 4, 9, 9]);
    normalizeInPlace(x, 4);
    const mean = (x[0]! + x[1]! + x[2]! + x[3]!) / 4;
    const variance = [0, 1, 2, 3].reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / 4;
    expect(mean).toBeCloseTo(0, 6);
    expect(variance).toBeCloseTo(1.25 / (1.25 + 1e-7), 5);
    expect([x[4], x[5]]).toEqual([0, 0]);
  });

  it('builds the single input and a right-padded batch with its mask', () => {
    const [single, batch] = builtInInputs({ do_normalize: true });
    expect(single).toMatchObject({ name: 'single', batch: 1, length: 16000, lengths: [16000] });
    expect(batch).toMatchObject({ name: 'batch', batch: 2, length: 16000, lengths: [16000, 11000] });
    expect(batch!.attentionMask[16000 + 10999]).toBe(1n);
    expect(batch!.attentionMask[16000 + 11000]).toBe(0n);
    expect(batch!.inputValues.subarray(16000 + 11000).every((v) => v === 0)).toBe(true);
  });
});

describe('wav reader', () => {
  it('reads 16-bit PCM and 32-bit float, also as WAVE_FORMAT_EXTENSIBLE', () => {
    const pcm = new Uint8Array(6);
    new DataView(pcm.buffer).setInt16(0, 16384, true);
    new DataView(pcm.buffer).setInt16(2, -32768, true);
    new DataView(pcm.buffer).setInt16(4, 1, true);
    expect(Array.from(parseWav(wav({ format: 1, channels: 1, rate: 16000, bits: 16, data: pcm })))).toEqual([0.5, -1, 1 / 32768]);
    const f = new Uint8Array(new Float32Array([0.25, -0.125]).buffer);
    expect(Array.from(parseWav(wav({ format: 3, channels: 1, rate: 16000, bits: 32, data: f, extensible: true })))).toEqual([0.25, -0.125]);
  });

  it('refuses stereo, other sample rates and other encodings with how to convert', () => {
    const data = new Uint8Array(8);
    const stereo = () => parseWav(wav({ format: 1, channels: 2, rate: 16000, bits: 16, data }), 'a.wav');
    expect(stereo).toThrow(UnsupportedModelError);
    expect(stereo).toThrow('a.wav has 2 channels; the model takes mono audio: convert it first, e.g. `ffmpeg -i in.wav -ac 1 -ar 16000 -c:a pcm_s16le out.wav`');
    expect(() => parseWav(wav({ format: 1, channels: 1, rate: 44100, bits: 16, data }), 'b.wav')).toThrow('b.wav is sampled at 44100 Hz; the model takes 16000 Hz');
    expect(() => parseWav(wav({ format: 1, channels: 1, rate: 16000, bits: 24, data: new Uint8Array(9) }), 'c.wav')).toThrow('c.wav is 24-bit PCM; supported: 16-bit PCM or 32-bit float');
    try {
      parseWav(new Uint8Array(20), 'd.wav');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CorruptInputError);
      expect((e as CorruptInputError).code).toBe('E_VERIFY_WAV');
      expect((e as Error).message).toBe('d.wav: not a RIFF/WAVE file');
    }
  });
});

describe('npy reader', () => {
  it('reads float32, float64 and int16 arrays with their shape', () => {
    const f4 = parseNpy(npy('<f4', [2, 2], new Uint8Array(new Float32Array([1.5, -2, 3, 0.25]).buffer)));
    expect(f4.shape).toEqual([2, 2]);
    expect(Array.from(f4.data)).toEqual([1.5, -2, 3, 0.25]);
    expect(Array.from(parseNpy(npy('<f8', [2], new Uint8Array(new Float64Array([0.1, 0.2]).buffer))).data)).toEqual([0.1, 0.2]);
    expect(Array.from(parseNpy(npy('<i2', [3], new Uint8Array(new Int16Array([-1, 0, 7]).buffer))).data)).toEqual([-1, 0, 7]);
  });

  it('rejects a size that does not match the shape, and big-endian data', () => {
    expect(() => parseNpy(npy('<f4', [3], new Uint8Array(8)), 'x.npy')).toThrow('x.npy: holds 8 data bytes; shape (3) of <f4 needs 12');
    expect(() => parseNpy(npy('>f4', [1], new Uint8Array(4)), 'y.npy')).toThrow('y.npy: dtype >f4 is not supported');
  });
});

describe('--audio files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verify-audio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a .npy (1, N) utterance and normalises it when the preprocessor asks', () => {
    const path = join(dir, 'u.npy');
    writeFileSync(path, npy('<f4', [1, 4], new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer)));
    const raw = audioInput(path, { do_normalize: false });
    expect(Array.from(raw.inputValues)).toEqual([1, 2, 3, 4]);
    expect(raw).toMatchObject({ name: `audio:${path}`, batch: 1, length: 4, lengths: [4] });
    const normed = audioInput(path, { do_normalize: true });
    expect(normed.inputValues[0]).toBeCloseTo(-1.5 / Math.sqrt(1.25 + 1e-7), 6);
  });

  it('refuses other file types and multi-row arrays', () => {
    const two = join(dir, 'two.npy');
    writeFileSync(two, npy('<f4', [2, 2], new Uint8Array(16)));
    expect(() => audioInput(two, {})).toThrow(`${two} has shape (2, 2); --audio takes one utterance: shape (N,) or (1, N) of 16 kHz samples`);
    expect(() => audioInput(join(dir, 'a.mp3'), {})).toThrow(UsageError);
  });
});
