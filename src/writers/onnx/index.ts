/**
 * ONNX export of a HuBERT model: one graph per requested variant, written into `<outDir>/onnx/` under the names
 * transformers.js looks for, with initializers streamed from the model's tensors.
 */
import { mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../../errors.js';
import { type HfModel, ONNX_VARIANT_FILES, ONNX_VARIANTS } from '../../model.js';
import { type OutputSpec, OUTPUTS_METADATA_KEY, describeOutputs } from '../../outputs.js';
import { VERSION } from '../../version.js';
import { VARIANT_SPECS } from './variants.js';
import { planExternal, PROTOBUF_LIMIT, writeExternalData, writeSegments } from './external-data.js';
import { encodeModel, type Initializer } from './graph.js';
import { buildHubertGraph, type HubertGraphOptions, IR_VERSION, type OnnxVariant } from './hubert.js';

export type { OnnxVariant } from './hubert.js';
export { buildHubertGraph, IR_VERSION, OPSET } from './hubert.js';
export { ONNX_VARIANTS } from '../../model.js';
export { VARIANT_SPECS, type LinearScheme, type VariantSpec } from './variants.js';

export interface BuildOnnxOptions {
  variants: OnnxVariant[];
  /** Also output every hidden state as `hidden_states.0..N`. */
  hiddenStates?: boolean;
  /** Put initializers into `<file>_data`; default: only when the model would exceed the 2 GB protobuf limit. */
  externalData?: boolean;
  onProgress?: (step: string, done: number, total: number) => void;
  /** Outputs beyond transformers' (layer cut, projection, k-means units, padding, profile); recorded in each graph's metadata. */
  outputs?: OutputSpec | null;
  /** Overrides of the variants' Linear schemes, for measuring alternatives (bench/q8.mjs); not for releases. */
  tuning?: Pick<HubertGraphOptions, 'linear' | 'keepFloat'>;
}

export interface OnnxFileInfo {
  variant: OnnxVariant;
  /** Relative to outDir, e.g. onnx/model.onnx */
  file: string;
  bytes: number;
  sha256: string;
  externalData?: { file: string; bytes: number; sha256: string };
}

/** transformers.js file names per variant. */
export const VARIANT_FILES = ONNX_VARIANT_FILES;

function withProgress(inits: Initializer[], report: (done: number) => void): Initializer[] {
  let done = 0;
  return inits.map((init) => ({
    ...init,
    chunks: function* () {
      yield* init.chunks();
      report(++done);
    },
  }));
}

export async function buildOnnx(model: HfModel, outDir: string, options: BuildOnnxOptions): Promise<OnnxFileInfo[]> {
  const variants = [...new Set(options.variants)];
  for (const v of variants) if (!(v in VARIANT_FILES)) throw new UsageError('E_ONNX_VARIANT', `unknown ONNX variant "${v}" (use ${ONNX_VARIANTS.join(', ')})`, { variant: v });
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  const results: OnnxFileInfo[] = [];
  for (const variant of variants) {
    const file = VARIANT_FILES[variant];
    const graph = buildHubertGraph(model, { ...options.tuning, variant, hiddenStates: options.hiddenStates ?? false, outputs: options.outputs ?? null });
    const total = graph.initializers.length;
    const step = `write ${file}`;
    const inits = withProgress(graph.initializers, (done) => options.onProgress?.(step, done, total));
    graph.initializers.splice(0, total, ...inits);
    const weightBytes = inits.reduce((a, i) => a + i.byteLength, 0);
    const external = options.externalData ?? weightBytes > PROTOBUF_LIMIT;
    const dataFile = `${file}_data`;
    const plan = external ? planExternal(inits, basename(dataFile)) : new Map();
    const meta = { irVersion: IR_VERSION, producerName: 'hubert-convert', producerVersion: VERSION, docString: `${model.architecture} (${variant}: ${VARIANT_SPECS[variant].summary})`, ...(options.outputs ? { metadata: { [OUTPUTS_METADATA_KEY]: JSON.stringify(describeOutputs(options.outputs)) } } : {}) };
    options.onProgress?.(step, 0, total);
    const written = await writeSegments(join(outDir, file), encodeModel(graph, meta, plan));
    const info: OnnxFileInfo = { variant, file, ...written };
    if (external) info.externalData = { file: dataFile, ...(await writeExternalData(join(outDir, dataFile), inits, plan)) };
    results.push(info);
  }
  return results;
}
