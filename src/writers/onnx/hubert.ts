/**
 * The HuBERT forward pass (transformers 5.x HubertModel / HubertForCTC / HubertForSequenceClassification, eval mode)
 * as an ONNX graph.
 *
 * Opset 17 (default domain: it has LayerNormalization; the opset torch.onnx/optimum use for HuBERT) and IR version 8
 * (the IR that goes with opset 17): onnxruntime 1.30 (node; IR ≤ 13, opset ≤ 26), onnxruntime-web and the Python
 * `onnx.checker` (full_check) all accept it, and so do runtimes several years older. GELU is written in the exact erf
 * form, which onnxruntime fuses into one Gelu kernel. The int8 variant adds com.microsoft DynamicQuantizeMatMul
 * (opset 1 of that domain), which onnxruntime CPU runs directly (7-bit symmetric per-column weights, see quantize.ts).
 *
 * Semantics reproduced (formats.md §1.3): conv feature encoder (group norm on layer 0 = InstanceNormalization, or a
 * LayerNorm with eps 1e-5 on every layer), optional feature-projection LayerNorm, positional conv (weight-norm folded
 * in float64, or BatchNorm before the conv), even-kernel frame removal, post-LN or pre-LN encoder, attention scaled by
 * head_dim^-0.5, and for layer-norm models the attention_mask path: frame counts from mask.sum(-1) through the conv
 * length formula, padded frames zeroed before the encoder, padded keys masked with float32-min, masked mean pooling.
 * hidden_states follow 5.x: for pre-LN models the last entry is the last layer's raw output (no final LayerNorm).
 */
import { type TensorSchema, basePrefixOf } from '../../architectures/hubert/index.js';
import { specFor } from '../../architectures/index.js';
import { CorruptInputError, UnsupportedModelError } from '../../errors.js';
import type { HfModel, HubertConfig, OnnxVariant } from '../../model.js';
import { type OutputSpec, featureOutputName, projectionOutputName } from '../../outputs.js';
import type { TensorData } from '../../tensor.js';
import { f, GraphBuilder, type Dim } from './graph.js';
import { dedupUnits, kmeansUnits, padMask, prepareSamples } from './outputs.js';
import { ONNX_DTYPE } from './proto.js';
import { concatRows, foldedWeightNormInit, ModelTensors, plainInit, quantizedInits, transposedInit, type FloatType } from './weights.js';

export const OPSET = 17;
export const IR_VERSION = 8;
export const MS_DOMAIN = 'com.microsoft';

export type { OnnxVariant } from '../../model.js';

export interface HubertGraphOptions {
  variant: OnnxVariant;
  /** Add every hidden state as outputs `hidden_states.0..N`. */
  hiddenStates?: boolean;
  /**
   * fp16 only: run LayerNorm/InstanceNorm/BatchNorm, Softmax and the pooling reductions in float32 (Cast around
   * them). Default true. onnxruntime 1.30 CPU has fp16 kernels for every op used, so this is for accuracy: on the
   * fixtures the worst hidden-state cosine is 0.999998 with it and 0.999995 without, and in real models (activations
   * in the hundreds) fp16 variance sums can overflow.
   */
  fp32Islands?: boolean;
  /**
   * Outputs beyond transformers' (src/outputs.ts): the graph ends at `layer`, adds the projection head and k-means
   * units, pads inside and takes [batch, 1, samples] as the spec says; the architecture's own head is not built.
   */
  outputs?: OutputSpec | null;
}

/** float32 min, the additive mask value transformers uses for padded keys. */
const FLOAT32_MIN = -3.4028234663852886e38;
const FLOAT16_MIN = -65504;

const BATCH: Dim = 'batch_size';
const FRAMES: Dim = 'num_frames';

/** Everything one graph build needs in one place. */
class HubertGraph {
  readonly g: GraphBuilder;
  readonly ct: FloatType;
  readonly cfg: HubertConfig;
  readonly t: ModelTensors;
  readonly int8: boolean;
  readonly islands: boolean;
  private schemaOf?: TensorSchema;

  constructor(private readonly model: HfModel, readonly options: HubertGraphOptions) {
    this.cfg = model.config;
    this.g = new GraphBuilder(model.architecture, OPSET);
    this.ct = options.variant === 'fp16' ? ONNX_DTYPE.FLOAT16 : ONNX_DTYPE.FLOAT;
    this.int8 = options.variant === 'int8';
    this.islands = this.ct === ONNX_DTYPE.FLOAT16 && (options.fp32Islands ?? true);
    this.t = new ModelTensors(model.tensors, basePrefixOf(model));
  }

  /** Names and shapes of the weights, from the architecture spec (built after the config is checked). */
  get schema(): TensorSchema {
    this.schemaOf ??= specFor(this.model.config).schema(this.model.config, this.model.architecture);
    return this.schemaOf;
  }

  // ---- weights -------------------------------------------------------------------------------------------------

  /** An encoder tensor (1-D parameter or conv weight) in `type`, held to the spec's shape unless `shape` says otherwise. */
  param(name: string, type: FloatType = this.ct, shape: readonly number[] = this.schema.shape(name), encoder = true): string {
    const full = encoder ? this.t.encoderPrefix + name : name;
    const known = this.g.initializers.find((i) => i.name === full);
    if (known) return known.name;
    return this.g.init(plainInit(full, encoder ? this.t.enc(name, shape) : this.t.get(name, shape), type));
  }

  /** x @ W^T + b for the Linear `name` ([out, in] weight); int8 quantizes the weight. */
  linear(x: string, name: string, encoder = true, outF?: number): string {
    const full = encoder ? this.t.encoderPrefix + name : name;
    const w = this.t.get(`${full}.weight`, encoder ? this.schema.shape(`${name}.weight`) : undefined);
    if (w.shape.length !== 2 || (outF !== undefined && w.shape[0] !== outF)) {
      throw new CorruptInputError('E_ONNX_TENSOR_SHAPE', `tensor ${full}.weight has shape [${w.shape.join(', ')}] but the config implies a [${outF ?? 'out'}, in] Linear weight`, { tensor: `${full}.weight` });
    }
    const bias = this.t.has(`${full}.bias`) ? this.t.get(`${full}.bias`, [w.shape[0]!]) : null;
    return this.linearFrom(x, full, w, bias);
  }

  /** x @ W^T + b with the given tensors, initializers named after `full`. */
  linearFrom(x: string, full: string, w: TensorData, b: TensorData | null): string {
    const bias = b ? this.g.init(plainInit(`${full}.bias`, b, this.ct)) : null;
    return this.g.scoped(full, () => {
      if (this.int8) {
        const [qw, qs] = quantizedInits(`${full}.weight_quantized`, `${full}.weight_scale`, w);
        // inputs: A, B, b_scale, b_zero_point (absent: symmetric), bias
        const inputs = [x, this.g.init(qw), this.g.init(qs), ''];
        if (bias) inputs.push(bias);
        return this.g.node('DynamicQuantizeMatMul', inputs, {}, { domain: MS_DOMAIN });
      }
      const y = this.g.node('MatMul', [x, this.g.init(transposedInit(`${full}.weight_t`, w, this.ct))]);
      return bias ? this.g.node('Add', [y, bias]) : y;
    });
  }

  // ---- numerics helpers --------------------------------------------------------------------------------------

  cast(x: string, to: FloatType): string {
    return this.g.node('Cast', [x], { to });
  }

  /** Run `body` on a float32 copy of `x` when fp16 keeps this op in float32; the result comes back in ct. */
  island(x: string, body: (x32: string, type: FloatType) => string): string {
    if (!this.islands) return body(x, this.ct);
    return this.cast(body(this.cast(x, ONNX_DTYPE.FLOAT), ONNX_DTYPE.FLOAT), this.ct);
  }

  layerNorm(x: string, name: string, eps: number): string {
    return this.g.scoped(name, () =>
      this.island(x, (x32, type) => this.g.node('LayerNormalization', [x32, this.param(`${name}.weight`, type), this.param(`${name}.bias`, type)], { axis: -1, epsilon: f(eps) })),
    );
  }

  activation(x: string, act: string): string {
    const g = this.g;
    const type = this.ct;
    switch (act) {
      case 'gelu': {
        // exact GELU: 0.5·x·(1 + erf(x/√2)), in the shape onnxruntime's GeluFusion recognizes
        const e = g.node('Erf', [g.node('Div', [x, g.scalar(Math.SQRT2, type)])]);
        return g.node('Mul', [g.node('Mul', [x, g.node('Add', [e, g.scalar(1, type)])]), g.scalar(0.5, type)]);
      }
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
        const x3 = g.node('Mul', [g.node('Mul', [x, x]), x]);
        const inner = g.node('Mul', [g.node('Add', [x, g.node('Mul', [x3, g.scalar(0.044715, type)])]), g.scalar(Math.sqrt(2 / Math.PI), type)]);
        return g.node('Mul', [g.node('Mul', [x, g.node('Add', [g.node('Tanh', [inner]), g.scalar(1, type)])]), g.scalar(0.5, type)]);
      }
      case 'relu':
        return g.node('Relu', [x]);
      case 'silu':
      case 'swish':
        return g.node('Mul', [x, g.node('Sigmoid', [x])]);
      default:
        throw new UnsupportedModelError('E_ONNX_ACTIVATION', `activation "${act}" is not supported by the ONNX exporter (supported: gelu, gelu_new, gelu_pytorch_tanh, relu, silu)`, { activation: act });
    }
  }

  transpose(x: string, perm: number[]): string {
    return this.g.node('Transpose', [x], { perm });
  }

  // ---- model parts -------------------------------------------------------------------------------------------

  /** [B, S] float → [B, C, T'] conv features. */
  featureEncoder(inputValues: string): string {
    const { cfg, g } = this;
    let x = g.node('Unsqueeze', [inputValues, g.i64([1])]);
    if (this.ct !== ONNX_DTYPE.FLOAT) x = this.cast(x, this.ct);
    let inC = 1;
    for (let i = 0; i < cfg.conv_dim.length; i++) {
      const outC = cfg.conv_dim[i]!;
      const k = cfg.conv_kernel[i]!;
      const s = cfg.conv_stride[i]!;
      const name = `feature_extractor.conv_layers.${i}`;
      x = g.scoped(name, () => {
        const inputs = [x, this.param(`${name}.conv.weight`)];
        if (cfg.conv_bias) inputs.push(this.param(`${name}.conv.bias`));
        let y = g.node('Conv', inputs, { kernel_shape: [k], strides: [s] });
        if (cfg.feat_extract_norm === 'layer') {
          // LayerNorm over channels; the module's own eps default (1e-5), not config.layer_norm_eps
          y = this.transpose(this.layerNorm(this.transpose(y, [0, 2, 1]), `${name}.layer_norm`, 1e-5), [0, 2, 1]);
        } else if (i === 0) {
          // GroupNorm(C, C) normalizes each channel over time: exactly InstanceNormalization
          y = this.island(y, (y32, type) => g.node('InstanceNormalization', [y32, this.param(`${name}.layer_norm.weight`, type), this.param(`${name}.layer_norm.bias`, type)], { epsilon: f(1e-5) }));
        }
        return this.activation(y, cfg.feat_extract_activation);
      });
      inC = outC;
    }
    return x;
  }

  /**
   * Per-sample frame counts from the sample mask, as transformers computes them: L ← floor((L − k)/s) + 1 per conv.
   * Integer Div truncates, so L is shifted by a multiple of s that keeps the dividend non-negative (exact floor).
   */
  frameLengths(mask: string): string {
    const { cfg, g } = this;
    return g.scoped('feature_lengths', () => {
      let len = g.node('ReduceSum', [mask, g.i64([1])], { keepdims: 0 });
      for (let i = 0; i < cfg.conv_kernel.length; i++) {
        const k = cfg.conv_kernel[i]!;
        const s = cfg.conv_stride[i]!;
        const m = Math.ceil(k / s) + 1;
        len = g.node('Add', [g.node('Div', [g.node('Add', [len, g.i64([s * m - k], [])]), g.i64([s], [])]), g.i64([1 - m], [])]);
      }
      return len;
    });
  }

  /** [B, T'] bool: frame index < frame count. */
  frameMask(hidden: string, lengths: string): string {
    const g = this.g;
    return g.scoped('frame_mask', () => {
      const frames = g.node('Gather', [g.node('Shape', [hidden]), g.i64([1], [])], { axis: 0 });
      const range = g.node('Range', [g.i64([0], []), frames, g.i64([1], [])]);
      return g.node('Less', [g.node('Unsqueeze', [range, g.i64([0])]), g.node('Unsqueeze', [lengths, g.i64([1])])]);
    });
  }

  posConv(h: string): string {
    const { cfg, g } = this;
    const k = cfg.num_conv_pos_embeddings;
    const groups = cfg.num_conv_pos_embedding_groups;
    const hidden = cfg.hidden_size;
    const name = 'encoder.pos_conv_embed';
    return g.scoped(name, () => {
      let x = this.transpose(h, [0, 2, 1]);
      let weight: string;
      if (cfg.conv_pos_batch_norm) {
        const bn = `${name}.batch_norm`;
        x = this.island(x, (x32, type) =>
          g.node('BatchNormalization', [x32, this.param(`${bn}.weight`, type), this.param(`${bn}.bias`, type), this.param(`${bn}.running_mean`, type), this.param(`${bn}.running_var`, type)], { epsilon: f(1e-5) }),
        );
        weight = this.param(`${name}.conv.weight`);
      } else {
        const p = this.t.encoderPrefix + `${name}.conv`;
        const gName = this.t.has(`${p}.weight_g`) ? `${p}.weight_g` : `${p}.parametrizations.weight.original0`;
        const vName = this.t.has(`${p}.weight_v`) ? `${p}.weight_v` : `${p}.parametrizations.weight.original1`;
        if (this.t.has(`${p}.weight`) && !this.t.has(gName)) weight = this.param(`${name}.conv.weight`, this.ct, [hidden, hidden / groups, k]);
        else weight = g.init(foldedWeightNormInit(`${p}.weight`, this.t.get(gName), this.t.get(vName, this.schema.shape(`${name}.conv.weight_v`)), this.ct));
      }
      const pad = Math.floor(k / 2);
      x = g.node('Conv', [x, weight, this.param(`${name}.conv.bias`)], { kernel_shape: [k], pads: [pad, pad], group: groups });
      // SamePadLayer: an even kernel yields one extra frame, dropped from the end
      if (k % 2 === 0) x = g.node('Slice', [x, g.i64([0]), g.i64([-1]), g.i64([2])]);
      x = this.activation(x, cfg.feat_extract_activation);
      return g.node('Add', [h, this.transpose(x, [0, 2, 1])]);
    });
  }

  attention(x: string, name: string, additiveMask: string | null): string {
    const { cfg, g } = this;
    const heads = cfg.num_attention_heads;
    const headDim = cfg.hidden_size / heads;
    return g.scoped(name, () => {
      const split = (y: string, perm: number[]): string => this.transpose(g.node('Reshape', [y, g.i64([0, 0, heads, headDim])]), perm);
      // q, k and v as one MatMul (one pass over x, one activation quantization in int8), then split
      const H = cfg.hidden_size;
      const full = this.t.encoderPrefix + name;
      const projections = ['q_proj', 'k_proj', 'v_proj'].map((p) => `${full}.${p}`);
      const shapeOf = (p: string) => this.schema.shape(p.slice(this.t.encoderPrefix.length));
      const weight = concatRows(projections.map((p) => this.t.get(`${p}.weight`, shapeOf(`${p}.weight`))));
      const bias = projections.every((p) => this.t.has(`${p}.bias`)) ? concatRows(projections.map((p) => this.t.get(`${p}.bias`, shapeOf(`${p}.bias`)))) : null;
      const [q0, k0, v0] = g.nodeN('Split', [this.linearFrom(x, `${full}.qkv_proj`, weight, bias), g.i64([H, H, H])], { axis: -1 }, { outputs: 3 });
      // laid out as onnxruntime fuses best: the scale Mul and the last-two-axes Transpose of k fold into one
      // FusedMatMul (alpha, transB) instead of running as separate passes
      const q = split(q0!, [0, 2, 1, 3]);
      const k = this.transpose(split(k0!, [0, 2, 1, 3]), [0, 1, 3, 2]);
      const v = split(v0!, [0, 2, 1, 3]);
      const scores = g.node('MatMul', [g.node('Mul', [q, g.scalar(headDim ** -0.5, this.ct)]), k]);
      const probs = this.island(scores, (s) => g.node('Softmax', [additiveMask ? g.node('Add', [s, additiveMask]) : s], { axis: -1 }));
      const ctx = g.node('Reshape', [this.transpose(g.node('MatMul', [probs, v]), [0, 2, 1, 3]), g.i64([0, 0, cfg.hidden_size])]);
      return this.linear(ctx, `${name}.out_proj`);
    });
  }

  feedForward(x: string, name: string): string {
    return this.g.scoped(name, () => {
      const y = this.activation(this.linear(x, `${name}.intermediate_dense`), this.cfg.hidden_act);
      return this.linear(y, `${name}.output_dense`);
    });
  }

  /**
   * Returns [last_hidden_state, hidden_states[0..N]]. With `cut`, only layers 1..cut run and the first value is
   * layer `cut`'s output as fairseq's extract_features(output_layer=cut) returns it (no final LayerNorm for pre-LN).
   */
  encoder(h: string, frameMask: string | null, cut?: number): [string, string[]] {
    const { cfg, g } = this;
    const eps = cfg.layer_norm_eps;
    let additive: string | null = null;
    if (frameMask) {
      h = g.node('Where', [g.node('Unsqueeze', [frameMask, g.i64([2])]), h, g.scalar(0, this.ct)]);
      // [B, 1, 1, T']: 0 for real frames, the float min for padding (float32 unless fp16 runs Softmax in fp16)
      const type = this.islands || this.ct === ONNX_DTYPE.FLOAT ? ONNX_DTYPE.FLOAT : ONNX_DTYPE.FLOAT16;
      const min = type === ONNX_DTYPE.FLOAT ? FLOAT32_MIN : FLOAT16_MIN;
      additive = g.node('Unsqueeze', [g.node('Where', [frameMask, g.scalar(0, type), g.scalar(min, type)]), g.i64([1, 2])]);
    }
    h = this.posConv(h);
    const states: string[] = [];
    if (!cfg.do_stable_layer_norm) {
      h = this.layerNorm(h, 'encoder.layer_norm', eps);
      states.push(h);
      for (let n = 0; n < (cut ?? cfg.num_hidden_layers); n++) {
        const p = `encoder.layers.${n}`;
        h = this.layerNorm(g.node('Add', [h, this.attention(h, `${p}.attention`, additive)]), `${p}.layer_norm`, eps);
        h = this.layerNorm(g.node('Add', [h, this.feedForward(h, `${p}.feed_forward`)]), `${p}.final_layer_norm`, eps);
        states.push(h);
      }
      return [h, states];
    }
    for (let n = 0; n < (cut ?? cfg.num_hidden_layers); n++) {
      const p = `encoder.layers.${n}`;
      states.push(h);
      h = g.node('Add', [h, this.attention(this.layerNorm(h, `${p}.layer_norm`, eps), `${p}.attention`, additive)]);
      h = g.node('Add', [h, this.feedForward(this.layerNorm(h, `${p}.final_layer_norm`, eps), `${p}.feed_forward`)]);
    }
    states.push(h); // transformers 5.x: the raw last-layer output, before encoder.layer_norm
    if (cut !== undefined) return [h, states];
    return [this.layerNorm(h, 'encoder.layer_norm', eps), states];
  }

  /** to float32 for a graph output */
  out32(x: string): string {
    return this.ct === ONNX_DTYPE.FLOAT ? x : this.cast(x, ONNX_DTYPE.FLOAT);
  }

  sequenceClassification(last: string, states: string[], frameMask: string | null): string {
    const { cfg, g } = this;
    return g.scoped('head', () => {
      let base = last;
      if (cfg.use_weighted_layer_sum) {
        const n = states.length;
        const w = g.node('Softmax', [this.param('layer_weights', ONNX_DTYPE.FLOAT, [n], false)], { axis: 0 });
        const stacked = g.node('Concat', states.map((s) => g.node('Unsqueeze', [this.out32(s), g.i64([0])])), { axis: 0 });
        base = g.node('ReduceSum', [g.node('Mul', [stacked, g.node('Reshape', [w, g.i64([n, 1, 1, 1])])]), g.i64([0])], { keepdims: 0 });
        if (this.ct !== ONNX_DTYPE.FLOAT) base = this.cast(base, this.ct);
      }
      const projected = this.out32(this.linear(base, 'projector', false, cfg.classifier_proj_size));
      let pooled: string;
      if (frameMask) {
        const masked = g.node('Where', [g.node('Unsqueeze', [frameMask, g.i64([2])]), projected, g.scalar(0)]);
        const count = g.node('Cast', [g.node('ReduceSum', [g.node('Cast', [frameMask], { to: ONNX_DTYPE.INT64 }), g.i64([1])], { keepdims: 1 })], { to: ONNX_DTYPE.FLOAT });
        pooled = g.node('Div', [g.node('ReduceSum', [masked, g.i64([1])], { keepdims: 0 }), count]);
      } else {
        pooled = g.node('ReduceMean', [projected], { axes: [1], keepdims: 0 });
      }
      if (this.ct !== ONNX_DTYPE.FLOAT) pooled = this.cast(pooled, this.ct);
      return this.linear(pooled, 'classifier', false);
    });
  }

  build(): GraphBuilder {
    const { cfg, g } = this;
    checkConfig(cfg);
    const spec = this.options.outputs ?? null;
    const inputValues = g.input('input_values', ONNX_DTYPE.FLOAT, spec?.channelAxis ? [BATCH, 1, 'sequence_length'] : [BATCH, 'sequence_length']);
    let mask = cfg.feat_extract_norm === 'layer' ? g.input('attention_mask', ONNX_DTYPE.INT64, [BATCH, 'sequence_length']) : null;
    const samples = spec ? prepareSamples(g, inputValues, spec.channelAxis, spec.inputPadding) : inputValues;
    if (mask && spec) mask = padMask(g, mask, spec.inputPadding);

    const conv = this.featureEncoder(samples);
    let h = this.transpose(conv, [0, 2, 1]);
    if (cfg.feat_proj_layer_norm) h = this.layerNorm(h, 'feature_projection.layer_norm', cfg.layer_norm_eps);
    h = this.linear(h, 'feature_projection.projection', true, cfg.hidden_size);
    const frameMask = mask ? this.frameMask(h, this.frameLengths(mask)) : null;
    const [last, states] = this.encoder(h, frameMask, spec?.layer ?? undefined);

    const H = cfg.hidden_size;
    if (spec) {
      this.specOutputs(spec, last);
      if (this.options.hiddenStates) states.forEach((s, i) => g.output(`hidden_states.${i}`, this.out32(s), ONNX_DTYPE.FLOAT, [BATCH, FRAMES, H]));
      return g;
    }
    switch (this.g.name) {
      case 'HubertModel':
        g.output('last_hidden_state', this.out32(last), ONNX_DTYPE.FLOAT, [BATCH, FRAMES, H]);
        break;
      case 'HubertForCTC': {
        const vocab = this.t.get('lm_head.weight').shape[0]!;
        g.output('logits', this.out32(this.linear(last, 'lm_head', false)), ONNX_DTYPE.FLOAT, [BATCH, FRAMES, vocab]);
        break;
      }
      case 'HubertForSequenceClassification': {
        const labels = this.t.get('classifier.weight').shape[0]!;
        g.output('logits', this.out32(this.sequenceClassification(last, states, frameMask)), ONNX_DTYPE.FLOAT, [BATCH, labels]);
        break;
      }
      default:
        throw new UnsupportedModelError('E_ONNX_ARCHITECTURE', `architecture ${this.g.name} has no ONNX export`, {});
    }
    if (this.options.hiddenStates) states.forEach((s, i) => g.output(`hidden_states.${i}`, this.out32(s), ONNX_DTYPE.FLOAT, [BATCH, FRAMES, H]));
    return g;
  }

  /** The outputs of an OutputSpec, in outputNamesOf order, from the features of the chosen layer. */
  specOutputs(spec: OutputSpec, features: string): void {
    const g = this.g;
    const features32 = this.out32(features);
    if (spec.kmeans) {
      const units = kmeansUnits(g, features32, spec.kmeans);
      g.output('units', units, ONNX_DTYPE.INT64, [BATCH, FRAMES]);
      if (spec.dedupUnits) {
        const { dedup, durations } = dedupUnits(g, units);
        g.output('dedup_units', dedup, ONNX_DTYPE.INT64, [BATCH, FRAMES]);
        g.output('unit_durations', durations, ONNX_DTYPE.INT64, [BATCH, FRAMES]);
      }
    }
    if (spec.projection) {
      const head = spec.projection;
      const projected = g.scoped(head.name, () => this.linearFrom(features, head.name, head.weight, head.bias));
      g.output(projectionOutputName(head.name), this.out32(projected), ONNX_DTYPE.FLOAT, [BATCH, FRAMES, head.weight.shape[0]!]);
    }
    g.output(featureOutputName(spec.layer), features32, ONNX_DTYPE.FLOAT, [BATCH, FRAMES, this.cfg.hidden_size]);
  }
}

function checkConfig(cfg: HubertConfig): void {
  const n = cfg.conv_dim.length;
  if (cfg.conv_kernel.length !== n || cfg.conv_stride.length !== n || n === 0) {
    throw new UnsupportedModelError('E_ONNX_CONFIG', `config conv_dim/conv_kernel/conv_stride lengths differ (${n}/${cfg.conv_kernel.length}/${cfg.conv_stride.length})`, {});
  }
  if (cfg.hidden_size % cfg.num_attention_heads !== 0 || cfg.hidden_size % cfg.num_conv_pos_embedding_groups !== 0) {
    throw new UnsupportedModelError('E_ONNX_CONFIG', `hidden_size ${cfg.hidden_size} is not divisible by num_attention_heads ${cfg.num_attention_heads} and num_conv_pos_embedding_groups ${cfg.num_conv_pos_embedding_groups}`, {});
  }
}

export function buildHubertGraph(model: HfModel, options: HubertGraphOptions): GraphBuilder {
  return new HubertGraph(model, options).build();
}
