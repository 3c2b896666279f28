/**
 * Deterministic test inputs. The generated signal is speech-like (voiced harmonics under moving formants, syllable
 * envelope, pauses, a fricative noise floor) so activations have realistic ranges for fp16 / int8 comparisons; it
 * is the same on every machine (seeded integer PRNG, no Math.random). Inputs are normalised like
 * Wav2Vec2FeatureExtractor when the folder's preprocessor asks for it (zero mean, unit variance over the real samples,
 * padding left at 0).
 */
import { extname } from 'node:path';
import { UsageError } from '../errors.js';
import type { PreprocessorConfig } from '../model.js';
import { readNpy } from './npy.js';
import { MODEL_SAMPLE_RATE, readWav } from './wav.js';
import { mulberry32 as prng } from '../prng.js';

export interface VerifyInput {
  /** "single", "batch", "audio:<file>" */
  name: string;
  inputValues: Float32Array;
  batch: number;
  length: number;
  /** real samples per row */
  lengths: number[];
  /** [batch, length] int64, 1 for real samples; given to the reference and to graphs that declare attention_mask */
  attentionMask: BigInt64Array;
}

/**
 * Built-in lengths: 1 s alone, and a batch of 1 s + 0.6875 s (zero-padded), as the transformers goldens use. The
 * batch's first row is the single input again (so its reference is computed once); the second is another signal.
 */
export const SINGLE_SAMPLES = 16000;
export const BATCH_SAMPLES: readonly [number, number] = [16000, 11000];

/** Harmonic amplitudes follow the slowly moving formants; recomputing them every 5 ms is plenty (and cheap). */
const FORMANT_UPDATE_SAMPLES = 80;
const HARMONICS = 24;

export function speechLikeSignal(samples: number, seed = 1): Float32Array {
  const random = prng(seed);
  const out = new Float32Array(samples);
  const rate = MODEL_SAMPLE_RATE;
  const syllableHz = 3 + seed * 0.37;
  const amplitude = new Float64Array(HARMONICS + 1);
  let phase = 0;
  let peak = 0;
  for (let i = 0; i < samples; i++) {
    const t = i / rate;
    const f0 = 120 + 35 * Math.sin(2 * Math.PI * 0.8 * t + seed) + 10 * Math.sin(2 * Math.PI * 5.3 * t);
    phase += (2 * Math.PI * f0) / rate;
    if (i % FORMANT_UPDATE_SAMPLES === 0) {
      const f1 = 500 + 250 * Math.sin(2 * Math.PI * 1.7 * t + seed);
      const f2 = 1500 + 500 * Math.sin(2 * Math.PI * 1.1 * t + 2 * seed);
      for (let k = 1; k <= HARMONICS; k++) {
        const f = k * f0;
        const formants = Math.exp(-(((f - f1) / 180) ** 2)) + 0.6 * Math.exp(-(((f - f2) / 250) ** 2)) + 0.05;
        amplitude[k] = f < rate / 2 ? formants / k : 0;
      }
    }
    let voiced = 0;
    for (let k = 1; k <= HARMONICS; k++) voiced += amplitude[k]! * Math.sin(k * phase);
    const syllable = Math.max(0, Math.sin(2 * Math.PI * syllableHz * t)) ** 1.5; // half-wave: pauses between syllables
    const fricative = Math.max(0, Math.sin(2 * Math.PI * syllableHz * t + 2.2)) ** 6;
    const noise = (random() - 0.5) * (0.02 + 0.3 * fricative);
    const value = voiced * syllable + noise;
    out[i] = value;
    peak = Math.max(peak, Math.abs(value));
  }
  const scale = peak > 0 ? 0.6 / peak : 1;
  for (let i = 0; i < samples; i++) out[i]! *= scale;
  return out;
}

/** Wav2Vec2FeatureExtractor's zero_mean_unit_var_norm over the first `length` samples (eps 1e-7), in place. */
export function normalizeInPlace(x: Float32Array, length: number): void {
  let mean = 0;
  for (let i = 0; i < length; i++) mean += x[i]!;
  mean /= length;
  let variance = 0;
  for (let i = 0; i < length; i++) variance += (x[i]! - mean) ** 2;
  variance /= length;
  const inv = 1 / Math.sqrt(variance + 1e-7);
  for (let i = 0; i < length; i++) x[i] = (x[i]! - mean) * inv;
  x.fill(0, length);
}

/** Rows of different real lengths, right-padded with zeros to the longest, with their mask. */
export function padBatch(name: string, rows: Float32Array[], normalize: boolean): VerifyInput {
  const length = Math.max(...rows.map((r) => r.length));
  const batch = rows.length;
  const inputValues = new Float32Array(batch * length);
  const attentionMask = new BigInt64Array(batch * length);
  rows.forEach((row, b) => {
    const slot = inputValues.subarray(b * length, (b + 1) * length);
    slot.set(row);
    if (normalize) normalizeInPlace(slot, row.length);
    attentionMask.fill(1n, b * length, b * length + row.length);
  });
  return { name, inputValues, batch, length, lengths: rows.map((r) => r.length), attentionMask };
}

export function builtInInputs(preprocessor: Partial<PreprocessorConfig>): VerifyInput[] {
  const normalize = preprocessor.do_normalize === true;
  return [
    padBatch('single', [speechLikeSignal(SINGLE_SAMPLES, 1)], normalize),
    padBatch('batch', [speechLikeSignal(BATCH_SAMPLES[0], 1), speechLikeSignal(BATCH_SAMPLES[1], 2)], normalize),
  ];
}

/** A user's audio file (.wav or .npy), one utterance, normalised like the built-in inputs. */
export function audioInput(path: string, preprocessor: Partial<PreprocessorConfig>): VerifyInput {
  const ext = extname(path).toLowerCase();
  let samples: Float32Array;
  if (ext === '.wav' || ext === '.wave') {
    samples = readWav(path);
  } else if (ext === '.npy') {
    const array = readNpy(path);
    const rows = array.shape.length === 2 ? array.shape[0] : 1;
    if (array.shape.length > 2 || rows !== 1) {
      throw new UsageError('E_VERIFY_AUDIO_SHAPE', `${path} has shape (${array.shape.join(', ')}); --audio takes one utterance: shape (N,) or (1, N) of 16 kHz samples`, { file: path });
    }
    samples = Float32Array.from(array.data);
  } else {
    throw new UsageError('E_VERIFY_AUDIO_TYPE', `--audio ${path}: use a .wav (mono 16 kHz PCM16/float32) or .npy file`, { file: path });
  }
  if (samples.length === 0) throw new UsageError('E_VERIFY_AUDIO_SHAPE', `${path} holds no samples`, { file: path });
  return padBatch(`audio:${path}`, [samples], preprocessor.do_normalize === true);
}
