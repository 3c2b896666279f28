import { UnsupportedModelError } from '../errors.js';

/** One feature-encoder convolution: (dim, kernel, stride), in fairseq's tuple order. */
export interface ConvLayerSpec {
  dim: number;
  kernel: number;
  stride: number;
}

/** Layers a conv_feature_layers expression may describe (HuBERT has 7). */
export const MAX_CONV_LAYERS = 1000;
/** Characters of the expression (HuBERT's is 48). */
export const MAX_CONV_LAYERS_TEXT = 10_000;

/**
 * Parses fairseq's `conv_feature_layers` string, e.g. `[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2`.
 * fairseq `eval`s it; we never evaluate anything: this is a parser for exactly that small list expression
 * (lists of 3-tuples of integers, `+` between lists, `* n` or `n *` repetition). Anything else is refused.
 */
export function parseConvFeatureLayers(text: string): ConvLayerSpec[] {
  const shown = text.length > 120 ? `${JSON.stringify(text.slice(0, 100))}… (${text.length} characters)` : JSON.stringify(text);
  const fail = (why: string): never => {
    throw new UnsupportedModelError(
      'E_CONV_LAYERS_SYNTAX',
      `conv_feature_layers ${shown} is not a list expression hubert-convert understands (${why}); expected something like "[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2"`,
    );
  };
  // bounded before anything is tokenised or expanded: a real stack is a few dozen characters and under 20 layers
  if (text.length > MAX_CONV_LAYERS_TEXT) fail(`longer than ${MAX_CONV_LAYERS_TEXT} characters`);
  const tokens = text.match(/\d+|[[\]()+*,]|\S/g) ?? [];
  let at = 0;
  let total = 0;
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
    const items = list();
    if (peek() === '*') {
      at++;
      repeat *= int();
    }
    // the running total is checked before the term is expanded
    total += repeat * items.length;
    if (total > MAX_CONV_LAYERS) fail(`more than ${MAX_CONV_LAYERS} layers`);
    return Array.from({ length: repeat }, () => items).flat();
  };
  const layers = term();
  while (peek() === '+') {
    at++;
    layers.push(...term());
  }
  if (at !== tokens.length) fail(`unexpected "${tokens[at]}"`);
  if (layers.length === 0) fail('no layers');
  return layers;
}

/** Frames produced by a conv stack for `samples` input samples (transformers' _get_feat_extract_output_lengths). */
export function framesFor(samples: number, layers: ReadonlyArray<{ kernel: number; stride: number }>): number {
  let n = samples;
  for (const { kernel, stride } of layers) n = Math.floor((n - kernel) / stride) + 1;
  return Math.max(0, n);
}
