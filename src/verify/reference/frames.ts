/** Frame counts and frame masks, exactly as transformers derives them from sample counts. */

/** Frames the conv stack makes from `samples` (floor((L − k)/s) + 1 per layer; may go ≤ 0 for too-short input). */
export function convOutputLength(samples: number, kernels: readonly number[], strides: readonly number[]): number {
  let length = samples;
  for (let i = 0; i < kernels.length; i++) length = Math.floor((length - kernels[i]!) / strides[i]!) + 1;
  return length;
}

/**
 * Valid frames per batch row for an attention mask [batch, samples]: the conv formula applied to the row's mask sum.
 * transformers marks frames with index < length as valid via `mask[length − 1] = 1` + reverse cumsum, so a length of
 * 0 indexes the last frame and makes every frame valid (−1: all but the last…); that quirk is kept.
 */
export function validFrames(
  mask: Int32Array | BigInt64Array,
  batch: number,
  samples: number,
  frames: number,
  kernels: readonly number[],
  strides: readonly number[],
): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let i = 0; i < samples; i++) sum += Number(mask[b * samples + i]!);
    out.push(validFramesOf(sum, frames, kernels, strides));
  }
  return out;
}

/**
 * The fewest samples from which the conv stack makes one frame (its receptive field): one frame of the last layer
 * needs its kernel, and each layer below needs (L − 1)·stride + kernel. 400 for HuBERT's standard stack.
 */
export function receptiveField(kernels: readonly number[], strides: readonly number[]): number {
  let samples = 1;
  for (let i = kernels.length - 1; i >= 0; i--) samples = (samples - 1) * strides[i]! + kernels[i]!;
  return samples;
}

/** Valid frames of one row whose mask holds `realSamples` ones (the quirk of validFrames included). */
export function validFramesOf(realSamples: number, frames: number, kernels: readonly number[], strides: readonly number[]): number {
  const length = convOutputLength(realSamples, kernels, strides);
  return length >= 1 ? Math.min(length, frames) : Math.max(0, frames + length);
}
