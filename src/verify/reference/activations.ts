/** The activation functions HuBERT configs name (`hidden_act`, `feat_extract_activation`), transformers' ACT2FN meaning. */
import { UnsupportedModelError } from '../../errors.js';
import { gelu } from './erf.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

const ACTIVATIONS: Readonly<Record<string, (x: number) => number>> = {
  gelu,
  // tanh approximation ("gelu_new" and torch's approximate="tanh")
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  gelu_pytorch_tanh: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  relu: (x) => (x > 0 ? x : 0),
  silu: (x) => x / (1 + Math.exp(-x)),
  swish: (x) => x / (1 + Math.exp(-x)),
  tanh: Math.tanh,
};

export function activationFor(name: string, field: string): (x: number) => number {
  const fn = ACTIVATIONS[name];
  if (!fn) {
    throw new UnsupportedModelError(
      'E_VERIFY_ACTIVATION',
      `config.json ${field} = "${name}" is not an activation the reference forward knows (${Object.keys(ACTIVATIONS).join(', ')})`,
      { field, name },
    );
  }
  return fn;
}

export function applyInPlace(x: Float64Array, fn: (x: number) => number): void {
  for (let i = 0; i < x.length; i++) x[i] = fn(x[i]!);
}
