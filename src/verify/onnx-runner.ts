/**
 * Runs the folder's ONNX variants in onnxruntime-node (CPU). Inputs are fed by name: `input_values` float32 [B, L]
 * and, when the graph declares it, `attention_mask` int64 [B, L]. Outputs come back as float64 arrays keyed by
 * canonical names (`hidden_states_3` is read as `hidden_states.3`); float16 outputs are widened exactly.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
// first: it switches the runtime's telemetry off before the runtime loads (see the module)
import './runtime-telemetry-off.js';
import * as ort from 'onnxruntime-node';
import { float16BitsToFloat32, float32ToFloat16Bits } from '../dtype.js';
import { ONNX_VARIANT_FILES } from '../model.js';
import type { Variant } from './report.js';

/** transformers.js file names. */
export const VARIANT_FILES = ONNX_VARIANT_FILES;

export interface GraphOutput {
  data: Float64Array;
  shape: number[];
  /** an int64 output (k-means units), its values exact in `data` */
  integer?: true;
}

export interface OnnxGraph {
  variant: Variant;
  file: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
  takesMask: boolean;
  /** `mask` null: an all-ones mask is fed to graphs that require one */
  run(inputValues: Float32Array, batch: number, length: number, mask: BigInt64Array | null): Promise<Record<string, GraphOutput>>;
  release(): Promise<void>;
}

export function canonicalOutputName(name: string): string {
  const m = /^hidden_states[._](\d+)$/.exec(name);
  return m ? `hidden_states.${m[1]}` : name;
}

/** The variant files present in `<dir>/onnx/`. */
export function presentVariants(dir: string): Variant[] {
  return (Object.keys(VARIANT_FILES) as Variant[]).filter((v) => existsSync(join(dir, VARIANT_FILES[v])));
}

function widen(tensor: ort.Tensor): Float64Array {
  const data = tensor.data;
  if (tensor.type === 'float16' && data instanceof Uint16Array) {
    const out = new Float64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = float16BitsToFloat32(data[i]!);
    return out;
  }
  if (data instanceof Float32Array || data instanceof Float64Array) return Float64Array.from(data);
  if (data instanceof BigInt64Array) return Float64Array.from(data, (v) => Number(v)); // unit ids: small integers
  throw new Error(`output of type ${tensor.type} is not a float tensor`);
}

/**
 * Float graphs (fp32, fp16) are opened without MatMul weight prepacking. Prepacking copies every weight into a packed
 * buffer: for an fp32 graph with external data that turns 3.85 GB of file-backed pages onnxruntime maps (x-large,
 * `model.onnx_data` at 4096-aligned offsets) into 3.7 GB of anonymous memory, and it takes 4.9 s of the fp32 session's
 * 5 s load; without it the mapped weights are used in place (anonymous memory 54 MB, load 0.4 s). On the fp16 graph it
 * lowers the load's peak by 0.4 GB and its time from 12 s to 7 s (bench/RESULTS.md). A verify run is two or three
 * forward passes, too few for packing to pay off; the results differ from packed ones by float32 rounding only.
 * Quantized graphs keep it: DynamicQuantizeMatMul packs its int8 weights into a different kernel path, which is the
 * path users get, and their sessions are small.
 */
export function sessionOptionsFor(variant: Variant): ort.InferenceSession.SessionOptions {
  const float = variant === 'fp32' || variant === 'fp16';
  return { graphOptimizationLevel: 'all', ...(float ? { extra: { session: { disable_prepacking: '1' } } } : {}) };
}

export async function openGraph(dir: string, variant: Variant): Promise<OnnxGraph> {
  const file = VARIANT_FILES[variant];
  const session = await ort.InferenceSession.create(join(dir, file), sessionOptionsFor(variant));
  const takesMask = session.inputNames.includes('attention_mask');
  const inputMeta = new Map(session.inputMetadata.map((m) => [m.name, m]));
  // the voice-conversion profiles take [batch, 1, samples] (src/outputs.ts)
  const channelAxis = (() => {
    const m = inputMeta.get('input_values');
    return m !== undefined && m.isTensor && m.shape.length === 3;
  })();
  const valuesType = (() => {
    const m = inputMeta.get('input_values');
    return m && m.isTensor ? m.type : 'float32';
  })();
  return {
    variant,
    file,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    takesMask,
    async run(inputValues, batch, length, mask) {
      const feeds: Record<string, ort.Tensor> = {};
      const dims = channelAxis ? [batch, 1, length] : [batch, length];
      if (valuesType === 'float16') {
        // not what our builder writes (fp16 graphs keep float32 I/O), but a foreign graph may ask for it
        feeds.input_values = new ort.Tensor('float16', Uint16Array.from(inputValues, float32ToFloat16Bits), dims);
      } else {
        feeds.input_values = new ort.Tensor('float32', inputValues, dims);
      }
      if (takesMask) feeds.attention_mask = new ort.Tensor('int64', mask ?? new BigInt64Array(batch * length).fill(1n), [batch, length]);
      const results = await session.run(feeds);
      const out: Record<string, GraphOutput> = {};
      for (const [name, tensor] of Object.entries(results)) {
        const t = tensor as ort.Tensor;
        out[canonicalOutputName(name)] = { data: widen(t), shape: t.dims.map(Number), ...(t.type === 'int64' ? { integer: true as const } : {}) };
      }
      return out;
    },
    release: () => session.release(),
  };
}
