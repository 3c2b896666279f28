import { UnsupportedModelError } from '../errors.js';

/** One feature-encoder convolution: (dim, kernel, stride), in fairseq's tuple order. */
export interface ConvLayerSpec {
  dim: number;
  kernel: number;
  stride: number;
}

/**
 * Parses fairseq's `conv_feature_layers` string, e.g. `[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2`.
 * fairseq `eval`s it; we never evaluate anything: this is a parser for exactly that small list expression
 * (lists of 3-tuples of integers, `+` between lists, `* n` or `n *` repetition). Anything else is refused.
 */
export function parseConvFeatureLayers(text: string): ConvLayerSpec[] {
  const tokens = text.match(/\d+|[[\]()+*,]|\S/g) ?? [];
  let at = 0;
  const fail = (why: string): never => {
    throw new UnsupportedModelError(
      'E_CONV_LAYERS_SYNTAX',
      `conv_feature_layers ${JSON.stringify(text)} is not a list expression hubert-convert understands (${why}); expected something like "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"`,
    );
  };
  const peek = () => tokens[at];
  const expect = (t: string) => (tokens[at] === t ? at++ : fail(`expected "${t}" at token ${at + 1}`));
  const int = (): number => {
    const t = tokens[at++];
    if (t === undefined || !/^\d+$/.test(t)) return fail(`expected an integer at token ${at}`);
    const n = Number(t);
    if (!Number.isSafeInteger(n) || n > 1_000_000) return fail(`integer ${t} out of range`);
    return n;
  };
  const tuple = (): ConvLayerSpec => {
    expect('(');
    const dim = int();
    expect(',');
    const kernel = int();
    expect(',');
    const stride = int();
    if (peek() === ',') at++;
    expect(')');
    if (dim < 1 || kernel < 1 || stride < 1) fail('dims, kernels and strides must be positive');
    return { dim, kernel, stride };
  };
  const list = (): ConvLayerSpec[] => {
    expect('[');
    const out: ConvLayerSpec[] = [];
    while (peek() !== ']') {
      out.push(tuple());
      if (peek() === ',') at++;
      else break;
    }
    expect(']');
    return out;
  };
  const term = (): ConvLayerSpec[] => {
    let repeat = 1;
    if (peek() !== undefined && /^\d+$/.test(peek()!)) {
      repeat = int();
      expect('*');
    }
    let items = list();
    if (peek() === '*') {
      at++;
      repeat *= int();
    }
    if (repeat > 1000) fail('too many layers');
    items = Array.from({ length: repeat }, () => items).flat();
    return items;
  };
  const layers = term();
  while (peek() === '+') {
    at++;
    layers.push(...term());
  }
  if (at !== tokens.length) fail(`unexpected "${tokens[at]}"`);
  if (layers.length === 0 || layers.length > 1000) fail('no layers');
  return layers;
}

/** Frames produced by a conv stack for `samples` input samples (transformers' _get_feat_extract_output_lengths). */
export function framesFor(samples: number, layers: ReadonlyArray<{ kernel: number; stride: number }>): number {
  let n = samples;
  for (const { kernel, stride } of layers) n = Math.floor((n - kernel) / stride) + 1;
  return Math.max(0, n);
}
