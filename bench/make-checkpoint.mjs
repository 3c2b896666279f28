// Writes a random-weight fairseq HuBERT pretraining checkpoint of a real geometry (base / large / xlarge) as a
// torch.save zip archive, with a small torch-zip writer of our own: stored records aligned to 64 bytes by the "FB"
// extra field, data descriptors, ZIP64 end records (as torch writes them), and ZIP64 central entries past 4 GiB.
// data.pkl is a protocol-2 pickle: a dict with `cfg` (model + task sections, as fairseq's OmegaConf.to_container) and
// `model`, a collections.OrderedDict of torch._utils._rebuild_tensor_v2 tensors over torch.FloatStorage persistent ids.
//
// Weights are streamed from three small pre-generated pools (matrices, biases, norms), so memory stays flat whatever
// the model size, and the values are finite and model-like (a converted model can be run and verified).
//
// Usage: node bench/make-checkpoint.mjs --size base|large|xlarge --out <file.pt> [--seed 1]
//        node bench/make-checkpoint.mjs --size base --plan      (prints the JSON plan bench/make_checkpoint.py uses)
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

// ---------------------------------------------------------------------------------------------------------------
// Geometry and config

/** The three released HuBERT sizes (fairseq hubert_base_ls960 / hubert_large_ll60k / hubert_xtralarge_ll60k). */
export const GEOMETRIES = {
  base: { hidden: 768, layers: 12, ffn: 3072, heads: 12, finalDim: 256, layerNormExtractor: false, layerNormFirst: false },
  large: { hidden: 1024, layers: 24, ffn: 4096, heads: 16, finalDim: 768, layerNormExtractor: true, layerNormFirst: true },
  xlarge: { hidden: 1280, layers: 48, ffn: 5120, heads: 16, finalDim: 1024, layerNormExtractor: true, layerNormFirst: true },
};
const CONV = [[512, 10, 5], [512, 3, 2], [512, 3, 2], [512, 3, 2], [512, 3, 2], [512, 2, 2], [512, 2, 2]];
const CONV_TEXT = '[(512,10,5)] + [(512,3,2)] * 4 + [(512,2,2)] * 2';
const CONV_POS = 128;
const CONV_POS_GROUPS = 16;
/** km500 units + the 4 fairseq specials. */
const LABEL_CLASSES = 504;

/** A Python float (JS cannot tell 50.0 from 50). */
export const float = (value) => ({ $float: value });
/** A Python tuple. */
export const tuple = (...items) => ({ $tuple: items });

function modelCfg(g) {
  const large = g.layerNormFirst;
  return {
    _name: 'hubert',
    label_rate: float(50),
    extractor_mode: g.layerNormExtractor ? 'layer_norm' : 'default',
    encoder_layers: g.layers,
    encoder_embed_dim: g.hidden,
    encoder_ffn_embed_dim: g.ffn,
    encoder_attention_heads: g.heads,
    activation_fn: 'gelu',
    layer_type: 'transformer',
    dropout: float(large ? 0 : 0.1),
    attention_dropout: float(large ? 0 : 0.1),
    activation_dropout: float(0),
    encoder_layerdrop: float(large ? 0 : 0.05),
    dropout_input: float(large ? 0 : 0.1),
    dropout_features: float(large ? 0 : 0.1),
    final_dim: g.finalDim,
    untie_final_proj: large,
    layer_norm_first: large,
    conv_feature_layers: CONV_TEXT,
    conv_bias: false,
    logit_temp: float(0.1),
    target_glu: false,
    feature_grad_mult: float(large ? 1 : 0.1),
    mask_length: 10,
    mask_prob: float(0.8),
    mask_selection: 'static',
    mask_other: float(0),
    no_mask_overlap: false,
    mask_min_space: 1,
    mask_channel_length: 10,
    mask_channel_prob: float(0),
    mask_channel_selection: 'static',
    mask_channel_other: float(0),
    no_mask_channel_overlap: false,
    mask_channel_min_space: 1,
    conv_pos: CONV_POS,
    conv_pos_groups: CONV_POS_GROUPS,
    latent_temp: [float(2), float(0.5), float(0.999995)],
    skip_masked: false,
    skip_nomask: large,
    checkpoint_activations: false,
    required_seq_len_multiple: 2,
    depthwise_conv_kernel_size: 31,
    attn_type: '',
    pos_enc_type: 'abs',
    fp16: false,
  };
}

function taskCfg() {
  return {
    _name: 'hubert_pretraining',
    data: '/checkpoint/data/librispeech/960h/iter/250K_50hz_km500',
    fine_tuning: false,
    labels: ['km'],
    label_dir: '/checkpoint/labels/km500',
    label_rate: float(50),
    sample_rate: 16000,
    normalize: false,
    enable_padding: false,
    max_keep_size: null,
    max_sample_size: 250000,
    min_sample_size: 32000,
    single_target: false,
    random_crop: true,
    pad_audio: false,
  };
}

function fullCfg(g, seed) {
  return {
    _name: null,
    common: { _name: null, no_progress_bar: false, log_interval: 200, log_format: 'json', seed, cpu: false, fp16: true, fp16_init_scale: 128 },
    distributed_training: { _name: null, distributed_world_size: 32, distributed_backend: 'nccl', ddp_backend: 'no_c10d' },
    dataset: { _name: null, num_workers: 6, max_tokens: 1400000, validate_interval: 5 },
    optimization: { _name: null, max_update: 400000, lr: [float(0.0005)], clip_norm: float(10), update_freq: [1] },
    checkpoint: { _name: null, save_dir: '/checkpoint/hubert', save_interval_updates: 25000, keep_interval_updates: 1 },
    task: taskCfg(),
    criterion: { _name: 'hubert', pred_masked_weight: float(1), pred_nomask_weight: float(0), loss_weights: [float(10)], log_keys: [] },
    model: modelCfg(g),
    optimizer: { _name: 'adam', adam_betas: '(0.9,0.98)', adam_eps: float(1e-6), weight_decay: float(0.01), lr: [float(0.0005)] },
    lr_scheduler: { _name: 'polynomial_decay', warmup_updates: 32000, end_learning_rate: float(0), power: float(1), total_num_update: float(400000), lr: [float(0.0005)] },
    scoring: null,
    bpe: null,
    tokenizer: null,
  };
}

/**
 * The state dict in the order fairseq's HubertModel.state_dict() emits it: [key, shape, init], init being the pool
 * the values come from ('weight' ±0.05, 'bias' ±0.01, 'norm' 1±0.05).
 */
export function stateDictPlan(g) {
  const out = [];
  const add = (key, shape, init) => out.push([key, shape, init]);
  const H = g.hidden;
  add('mask_emb', [H], 'weight');
  add('label_embs_concat', [LABEL_CLASSES, g.finalDim], 'weight');
  CONV.forEach(([dim, kernel], i) => {
    add(`feature_extractor.conv_layers.${i}.0.weight`, [dim, i === 0 ? 1 : CONV[i - 1][0], kernel], 'weight');
    if (g.layerNormExtractor) {
      add(`feature_extractor.conv_layers.${i}.2.1.weight`, [dim], 'norm');
      add(`feature_extractor.conv_layers.${i}.2.1.bias`, [dim], 'bias');
    } else if (i === 0) {
      add('feature_extractor.conv_layers.0.2.weight', [dim], 'norm');
      add('feature_extractor.conv_layers.0.2.bias', [dim], 'bias');
    }
  });
  const C = CONV.at(-1)[0];
  add('post_extract_proj.weight', [H, C], 'weight');
  add('post_extract_proj.bias', [H], 'bias');
  add('encoder.pos_conv.0.bias', [H], 'bias');
  add('encoder.pos_conv.0.weight_g', [1, 1, CONV_POS], 'norm');
  add('encoder.pos_conv.0.weight_v', [H, H / CONV_POS_GROUPS, CONV_POS], 'weight');
  for (let n = 0; n < g.layers; n++) {
    const p = `encoder.layers.${n}.`;
    for (const proj of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) {
      add(`${p}self_attn.${proj}.weight`, [H, H], 'weight');
      add(`${p}self_attn.${proj}.bias`, [H], 'bias');
    }
    add(`${p}self_attn_layer_norm.weight`, [H], 'norm');
    add(`${p}self_attn_layer_norm.bias`, [H], 'bias');
    add(`${p}fc1.weight`, [g.ffn, H], 'weight');
    add(`${p}fc1.bias`, [g.ffn], 'bias');
    add(`${p}fc2.weight`, [H, g.ffn], 'weight');
    add(`${p}fc2.bias`, [H], 'bias');
    add(`${p}final_layer_norm.weight`, [H], 'norm');
    add(`${p}final_layer_norm.bias`, [H], 'bias');
  }
  add('encoder.layer_norm.weight', [H], 'norm');
  add('encoder.layer_norm.bias', [H], 'bias');
  add('layer_norm.weight', [C], 'norm');
  add('layer_norm.bias', [C], 'bias');
  add('final_proj.weight', [g.finalDim, H], 'weight');
  add('final_proj.bias', [g.finalDim], 'bias');
  return out;
}

/** Everything but the tensor values: the plan both generators (JS and Python) follow. */
export function checkpointPlan(size, seed = 1) {
  const g = GEOMETRIES[size];
  if (!g) throw new Error(`unknown size "${size}"; use ${Object.keys(GEOMETRIES).join(', ')}`);
  const tensors = stateDictPlan(g);
  const bytes = tensors.reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1) * 4, 0);
  return { size, seed, geometry: g, cfg: fullCfg(g, seed), tensors, tensorBytes: bytes };
}

// ---------------------------------------------------------------------------------------------------------------
// Value pools: a few MiB of seeded pseudo-random float32s per init kind, sliced at tensor-dependent offsets.

const POOL_FLOATS = 1 << 20;
const POOL_RANGES = { weight: [-0.05, 0.05], bias: [-0.01, 0.01], norm: [0.95, 1.05] };

function makePools(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const pools = {};
  for (const [kind, [lo, hi]] of Object.entries(POOL_RANGES)) {
    const f = new Float32Array(POOL_FLOATS);
    for (let i = 0; i < f.length; i++) f[i] = lo + (hi - lo) * next();
    pools[kind] = new Uint8Array(f.buffer);
  }
  return pools;
}

/** The bytes of tensor #index: a walk through its pool from an index-dependent start, wrapping around. */
function* tensorChunks(pool, index, byteLength, maxChunk = 4 << 20) {
  let at = ((index * 7919) % POOL_FLOATS) * 4;
  for (let left = byteLength; left > 0; ) {
    const n = Math.min(left, pool.byteLength - at, maxChunk);
    yield pool.subarray(at, at + n);
    left -= n;
    at = (at + n) % pool.byteLength;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Protocol-2 pickle writer (only what torch.save emits for such a checkpoint)

const OP = {
  PROTO: 0x80, STOP: 0x2e, MARK: 0x28, EMPTY_DICT: 0x7d, EMPTY_LIST: 0x5d, EMPTY_TUPLE: 0x29, SETITEMS: 0x75, APPENDS: 0x65,
  TUPLE: 0x74, TUPLE1: 0x85, TUPLE2: 0x86, TUPLE3: 0x87, NONE: 0x4e, NEWTRUE: 0x88, NEWFALSE: 0x89, BININT: 0x4a,
  BININT1: 0x4b, BININT2: 0x4d, LONG1: 0x8a, BINFLOAT: 0x47, BINUNICODE: 0x58, GLOBAL: 0x63, REDUCE: 0x52, BUILD: 0x62,
  BINPERSID: 0x51, BINPUT: 0x71, LONG_BINPUT: 0x72, BINGET: 0x68, LONG_BINGET: 0x6a,
};
const BATCH = 1000;

/** A torch tensor of the state dict: a view over its own FloatStorage `key`. */
export const tensorRef = (key, shape) => ({ $tensor: { key, shape } });
/** collections.OrderedDict, with an optional `_metadata` attribute (set by BUILD, as module.state_dict() has). */
export const orderedDict = (entries, metadata) => ({ $ordered: entries, metadata });

class PickleWriter {
  parts = [];
  memo = new Map();
  nextMemo = 0;

  byte(...b) {
    this.parts.push(Uint8Array.from(b));
  }
  u32(n) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n, true);
    this.parts.push(b);
  }
  put(memoKey) {
    const id = this.nextMemo++;
    if (memoKey !== undefined) this.memo.set(memoKey, id);
    if (id < 256) this.byte(OP.BINPUT, id);
    else {
      this.byte(OP.LONG_BINPUT);
      this.u32(id);
    }
  }
  /** Re-use a memoised object (as pickle does for repeated globals and strings). */
  get(memoKey) {
    const id = this.memo.get(memoKey);
    if (id === undefined) return false;
    if (id < 256) this.byte(OP.BINGET, id);
    else {
      this.byte(OP.LONG_BINGET);
      this.u32(id);
    }
    return true;
  }
  global(module, name) {
    if (this.get(`g:${module}.${name}`)) return;
    this.parts.push(Uint8Array.of(OP.GLOBAL), Buffer.from(`${module}\n${name}\n`, 'utf8'));
    this.put(`g:${module}.${name}`);
  }
  int(n) {
    if (n >= 0 && n < 256) this.byte(OP.BININT1, n);
    else if (n >= 0 && n < 65536) this.byte(OP.BININT2, n & 0xff, n >> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      const b = new Uint8Array(5);
      b[0] = OP.BININT;
      new DataView(b.buffer).setInt32(1, n, true);
      this.parts.push(b);
    } else {
      // LONG1: little-endian two's complement, minimal length
      let v = BigInt(n);
      const bytes = [];
      for (;;) {
        const byte = Number(v & 0xffn);
        bytes.push(byte);
        v >>= 8n;
        if ((v === 0n && (byte & 0x80) === 0) || (v === -1n && (byte & 0x80) !== 0)) break;
      }
      this.byte(OP.LONG1, bytes.length, ...bytes);
    }
  }
  string(s) {
    if (this.get(`s:${s}`)) return;
    const utf8 = Buffer.from(s, 'utf8');
    this.byte(OP.BINUNICODE);
    this.u32(utf8.byteLength);
    this.parts.push(utf8);
    this.put(`s:${s}`);
  }
  tupleOf(items) {
    if (items.length === 0) return this.byte(OP.EMPTY_TUPLE);
    if (items.length > 3) this.byte(OP.MARK);
    for (const item of items) this.value(item);
    this.byte(items.length > 3 ? OP.TUPLE : [OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]);
  }
  dictItems(entries) {
    for (let i = 0; i < entries.length; i += BATCH) {
      this.byte(OP.MARK);
      for (const [k, v] of entries.slice(i, i + BATCH)) {
        this.value(k);
        this.value(v);
      }
      this.byte(OP.SETITEMS);
    }
  }
  tensor({ key, shape }) {
    const strides = [];
    let s = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      strides[i] = s;
      s *= shape[i];
    }
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.byte(OP.MARK);
    // persistent id ('storage', torch.FloatStorage, key, 'cpu', numel)
    this.byte(OP.MARK);
    this.string('storage');
    this.global('torch', 'FloatStorage');
    this.string(key);
    this.string('cpu');
    this.int(s);
    this.byte(OP.TUPLE);
    this.byte(OP.BINPERSID);
    this.int(0);
    this.tupleOf(shape);
    this.tupleOf(strides);
    this.byte(OP.NEWFALSE);
    this.global('collections', 'OrderedDict');
    this.byte(OP.EMPTY_TUPLE, OP.REDUCE);
    this.put();
    this.byte(OP.TUPLE, OP.REDUCE);
    this.put();
  }
  value(v) {
    if (v === null || v === undefined) return this.byte(OP.NONE);
    if (v === true) return this.byte(OP.NEWTRUE);
    if (v === false) return this.byte(OP.NEWFALSE);
    if (typeof v === 'string') return this.string(v);
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) return this.value(float(v));
      return this.int(v);
    }
    if (Array.isArray(v)) {
      this.byte(OP.EMPTY_LIST);
      this.put();
      if (v.length === 0) return;
      for (let i = 0; i < v.length; i += BATCH) {
        this.byte(OP.MARK);
        for (const item of v.slice(i, i + BATCH)) this.value(item);
        this.byte(OP.APPENDS);
      }
      return;
    }
    if ('$float' in v) {
      const b = new Uint8Array(9);
      b[0] = OP.BINFLOAT;
      new DataView(b.buffer).setFloat64(1, v.$float, false);
      return this.parts.push(b);
    }
    if ('$tuple' in v) return this.tupleOf(v.$tuple);
    if ('$tensor' in v) return this.tensor(v.$tensor);
    if ('$ordered' in v) {
      this.global('collections', 'OrderedDict');
      this.byte(OP.EMPTY_TUPLE, OP.REDUCE);
      this.put();
      this.dictItems(v.$ordered);
      if (v.metadata) {
        this.byte(OP.EMPTY_DICT);
        this.put();
        this.dictItems([['_metadata', v.metadata]]);
        this.byte(OP.BUILD);
      }
      return;
    }
    this.byte(OP.EMPTY_DICT);
    this.put();
    const entries = Object.entries(v);
    if (entries.length > 0) this.dictItems(entries);
  }
  dump(root) {
    this.byte(OP.PROTO, 2);
    this.value(root);
    this.byte(OP.STOP);
    return Buffer.concat(this.parts);
  }
}

export function pickle(root) {
  return new PickleWriter().dump(root);
}

// ---------------------------------------------------------------------------------------------------------------
// Stored zip with torch's layout

const ALIGN = 64;
const U32_MAX = 0xffffffff;

export class TorchZipWriter {
  entries = [];
  pos = 0;
  constructor(path, archiveName = 'archive') {
    this.fd = openSync(path, 'w');
    this.prefix = `${archiveName}/`;
  }
  write(bytes) {
    for (let done = 0; done < bytes.byteLength; ) done += writeSync(this.fd, bytes, done, bytes.byteLength - done, this.pos + done);
    this.pos += bytes.byteLength;
  }
  /** One stored record; `chunks` yields its bytes (streamed, never concatenated). */
  record(name, chunks) {
    const fullName = Buffer.from(this.prefix + name, 'utf8');
    const offset = this.pos;
    const start = offset + 30 + fullName.byteLength + 4;
    const pad = (ALIGN - (start % ALIGN)) % ALIGN;
    const header = Buffer.alloc(30 + fullName.byteLength + 4 + pad, 'Z');
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(0, 4); // version needed
    header.writeUInt16LE(0x0808, 6); // data descriptor follows; UTF-8 names
    header.writeUInt16LE(0, 8); // stored
    header.writeUInt32LE(0, 10); // time, date
    header.writeUInt32LE(0, 14); // crc (in the descriptor)
    header.writeUInt32LE(0, 18);
    header.writeUInt32LE(0, 22);
    header.writeUInt16LE(fullName.byteLength, 26);
    header.writeUInt16LE(4 + pad, 28);
    fullName.copy(header, 30);
    header.write('FB', 30 + fullName.byteLength, 'latin1');
    header.writeUInt16LE(pad, 30 + fullName.byteLength + 2);
    this.write(header);
    let crc = 0;
    let size = 0;
    for (const chunk of chunks) {
      crc = crc32(chunk, crc);
      size += chunk.byteLength;
      this.write(chunk);
    }
    if (size >= U32_MAX) throw new Error(`record ${name}: ${size} bytes; records of 4 GiB or more are not supported by this generator`);
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
    this.write(descriptor);
    this.entries.push({ name: fullName, offset, size, crc: crc >>> 0 });
  }
  close() {
    const cdStart = this.pos;
    for (const e of this.entries) {
      const zip64 = e.offset >= U32_MAX;
      const extra = zip64 ? Buffer.alloc(12) : Buffer.alloc(0);
      if (zip64) {
        extra.writeUInt16LE(0x0001, 0);
        extra.writeUInt16LE(8, 2);
        extra.writeBigUInt64LE(BigInt(e.offset), 4);
      }
      const h = Buffer.alloc(46);
      h.writeUInt32LE(0x02014b50, 0);
      h.writeUInt16LE(zip64 ? 45 : 0, 4); // made by
      h.writeUInt16LE(zip64 ? 45 : 0, 6); // needed
      h.writeUInt16LE(0x0808, 8);
      h.writeUInt16LE(0, 10);
      h.writeUInt32LE(0, 12);
      h.writeUInt32LE(e.crc, 16);
      h.writeUInt32LE(e.size, 20);
      h.writeUInt32LE(e.size, 24);
      h.writeUInt16LE(e.name.byteLength, 28);
      h.writeUInt16LE(extra.byteLength, 30);
      // comment length, disk, attributes stay 0
      h.writeUInt32LE(zip64 ? U32_MAX : e.offset, 42);
      this.write(Buffer.concat([h, e.name, extra]));
    }
    const cdSize = this.pos - cdStart;
    const eocd64At = this.pos;
    const n = this.entries.length;
    const end = Buffer.alloc(56 + 20 + 22);
    end.writeUInt32LE(0x06064b50, 0);
    end.writeBigUInt64LE(44n, 4);
    end.writeUInt16LE(30, 12);
    end.writeUInt16LE(45, 14);
    end.writeBigUInt64LE(BigInt(n), 24);
    end.writeBigUInt64LE(BigInt(n), 32);
    end.writeBigUInt64LE(BigInt(cdSize), 40);
    end.writeBigUInt64LE(BigInt(cdStart), 48);
    end.writeUInt32LE(0x07064b50, 56);
    end.writeBigUInt64LE(BigInt(eocd64At), 64);
    end.writeUInt32LE(1, 72);
    end.writeUInt32LE(0x06054b50, 76);
    end.writeUInt16LE(Math.min(n, 0xffff), 84);
    end.writeUInt16LE(Math.min(n, 0xffff), 86);
    end.writeUInt32LE(Math.min(cdSize, U32_MAX), 88);
    end.writeUInt32LE(Math.min(cdStart, U32_MAX), 92);
    this.write(end);
    closeSync(this.fd);
    return this.pos;
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Writes the checkpoint; returns its size in bytes. Memory stays at the pools (12 MiB) plus the pickle. */
export function writeCheckpoint(path, size, seed = 1) {
  const plan = checkpointPlan(size, seed);
  const pools = makePools(seed);
  const state = plan.tensors.map(([key, shape], i) => [key, tensorRef(String(i), shape)]);
  const root = {
    args: null,
    cfg: plan.cfg,
    model: orderedDict(state, orderedDict([['', { version: 1 }]])),
    criterion: null,
    optimizer_history: [{ criterion_name: 'HubertCriterion', optimizer_name: 'FairseqAdam', lr_scheduler_state: { best: null }, num_updates: 400000 }],
    task_state: {},
    extra_state: { metrics: {}, previous_training_time: float(123456.7), train_iterator: { epoch: 200, iterations_in_epoch: 0, shuffle: true } },
    last_optimizer_state: null,
  };
  const zip = new TorchZipWriter(path);
  const text = (s) => [Buffer.from(s, 'latin1')];
  zip.record('data.pkl', [pickle(root)]);
  zip.record('.format_version', text('1'));
  zip.record('.storage_alignment', text('64'));
  zip.record('byteorder', text('little'));
  plan.tensors.forEach(([, shape, init], i) => {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    zip.record(`data/${i}`, tensorChunks(pools[init], i, bytes));
  });
  zip.record('version', text('3\n'));
  zip.record('.data/serialization_id', text(String(seed).padStart(40, '0')));
  return zip.close();
}

/** JSON for the plan (floats tagged so Python keeps them floats). */
function planJson(plan) {
  return JSON.stringify({ ...plan, tensors: plan.tensors.map(([key, shape, init]) => ({ key, shape, init, range: POOL_RANGES[init] })) });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: { size: { type: 'string', default: 'base' }, out: { type: 'string' }, seed: { type: 'string', default: '1' }, plan: { type: 'boolean', default: false }, quiet: { type: 'boolean', default: false } },
  });
  const seed = Number(values.seed);
  if (values.plan) {
    process.stdout.write(`${planJson(checkpointPlan(values.size, seed))}\n`);
  } else {
    if (!values.out) throw new Error('--out <file.pt> is required');
    const t0 = performance.now();
    const bytes = writeCheckpoint(values.out, values.size, seed);
    if (!values.quiet) {
      const s = (performance.now() - t0) / 1000;
      console.error(`${values.out}: ${values.size}, ${(bytes / 1e9).toFixed(3)} GB in ${s.toFixed(2)} s, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
    }
  }
}
