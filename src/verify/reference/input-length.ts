/** Inputs shorter than the conv stack's receptive field make no frame: refused in one line, naming the minimum. */
import { UsageError } from '../../errors.js';
import type { HubertConfig } from '../../model.js';
import { receptiveField } from './frames.js';

/** Sampling rate every HuBERT preprocessor uses (preprocessor_config.json sampling_rate). */
export const SAMPLE_RATE = 16000;

const ms = (samples: number, rate: number) => `${+((samples / rate) * 1000).toFixed(2)} ms`;

/** The fewest samples the model accepts. */
export function minimumSamples(config: Pick<HubertConfig, 'conv_kernel' | 'conv_stride'>): number {
  return receptiveField(config.conv_kernel, config.conv_stride);
}

/** Throws E_INPUT_TOO_SHORT when `samples` is below the receptive field; `what` names the input ("--audio x.wav"). */
export function checkInputLength(config: Pick<HubertConfig, 'conv_kernel' | 'conv_stride'>, samples: number, what: string, rate = SAMPLE_RATE): void {
  const minimum = minimumSamples(config);
  if (samples >= minimum) return;
  throw new UsageError(
    'E_INPUT_TOO_SHORT',
    `${what} has ${samples} samples (${ms(samples, rate)}), fewer than the model's receptive field of ${minimum} samples (${ms(minimum, rate)} at ${rate / 1000} kHz): the conv stack makes no frame from it; use at least ${minimum} samples`,
    { samples, minimumSamples: minimum, minimumMs: (minimum / rate) * 1000, sampleRate: rate },
  );
}
