import type { ByteSource } from '../byte-source.js';
import { DTYPE_SIZE, type DType } from '../dtype.js';
import { CorruptInputError, HubertConvertError } from '../errors.js';
import { DEFAULT_CHUNK_BYTES, type TensorData, allocateBytes, checkedNumel } from '../tensor.js';

/**
 * One torch storage: `numel` elements of `dtype` somewhere in the checkpoint file. It is created while the pickle is
 * read (from a persistent id) and bound to its bytes afterwards, once the container format knows where they are.
 */
export class TorchStorage {
  private source: ByteSource | null = null;
  private dataOffset = 0;
  constructor(
    /** The record key (`data/<key>` in a zip, the root key in a legacy file). */
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly location: string,
    /** Legacy storage views: this storage is `numel` elements of `view.base` starting at element `view.offset`. */
    readonly view: { base: TorchStorage; offset: number } | null = null,
  ) {}

  get byteLength(): number {
    return this.numel * DTYPE_SIZE[this.dtype];
  }

  /** Where the bytes are. The caller has checked that the record holds exactly `byteLength` bytes. */
  bind(source: ByteSource, dataOffset: number): void {
    this.source = source;
    this.dataOffset = dataOffset;
  }

  get isBound(): boolean {
    return this.view ? this.view.base.isBound : this.source !== null;
  }

  /** The source and absolute file offset of the first byte. */
  bytesAt(): { source: ByteSource; offset: number } {
    if (this.view) {
      const base = this.view.base.bytesAt();
      return { source: base.source, offset: base.offset + this.view.offset * DTYPE_SIZE[this.view.base.dtype] };
    }
    if (!this.source) throw new HubertConvertError('internal', 'E_INTERNAL_UNBOUND_STORAGE', `storage '${this.key}' was never bound to file bytes`);
    return { source: this.source, offset: this.dataOffset };
  }
}

/** Buffers bigger than this are never kept for reuse (a tensor read whole by `bytes()` must not pin its size). */
const MAX_SPARE_BYTES = 16 << 20;
/** One read buffer left by a finished `chunks()` walk, handed to the next one (no fresh zero-filled buffer per tensor). */
let spare: ArrayBuffer | null = null;

/** Node's Buffer when there is one (this module runs without Node too). */
const NODE_BUFFER = (globalThis as { Buffer?: { allocUnsafeSlow(size: number): Uint8Array } }).Buffer;

function takeBuffer(byteLength: number): Uint8Array {
  if (spare && spare.byteLength >= byteLength) {
    const reused = new Uint8Array(spare, 0, byteLength);
    spare = null;
    return reused;
  }
  // uninitialised memory where Node offers it: every byte is overwritten by the read before it is yielded
  if (NODE_BUFFER) return new Uint8Array(NODE_BUFFER.allocUnsafeSlow(byteLength).buffer, 0, byteLength);
  return new Uint8Array(byteLength);
}

function giveBack(buffer: Uint8Array): void {
  const whole = buffer.buffer as ArrayBuffer;
  if (whole.byteLength <= MAX_SPARE_BYTES && (!spare || spare.byteLength < whole.byteLength)) spare = whole;
}

/** Row-major strides, in elements, of a tensor of this shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/**
 * A tensor view (dtype, shape, strides, storage offset) over a storage in the checkpoint file. Nothing is read until
 * `bytes()` or `chunks()` is called; then contiguous tensors are read with positioned reads into one reused buffer and
 * strided ones are gathered into C order.
 */
export class LazyTensor implements TensorData {
  readonly numel: number;
  readonly byteLength: number;
  readonly isContiguous: boolean;
  private validated = false;

  constructor(
    readonly storage: TorchStorage,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly strides: readonly number[],
    /** In elements of `dtype`. */
    readonly storageOffset: number,
  ) {
    const numel = checkedNumel(shape, DTYPE_SIZE[dtype]);
    if (numel === null) {
      throw new CorruptInputError('E_TENSOR_TOO_LARGE', `a tensor over storage '${storage.key}' claims shape [${shape.join(', ')}], more than 2^53 bytes; the file is corrupt`, { storage: storage.key });
    }
    this.numel = numel;
    this.byteLength = this.numel * DTYPE_SIZE[dtype];
    const expected = contiguousStrides(shape);
    this.isContiguous = this.numel === 0 || shape.every((d, i) => d === 1 || strides[i] === expected[i]);
  }

  /** The highest element index (relative to the storage start) the view touches, or -1 for an empty tensor. */
  private lastElement(): number {
    if (this.numel === 0) return -1;
    let last = this.storageOffset;
    for (let i = 0; i < this.shape.length; i++) last += (this.shape[i]! - 1) * this.strides[i]!;
    return last;
  }

  /** Check that the view fits inside its storage. `where` names the tensor in the message (its path). */
  validate(where: string): void {
    if (this.validated) return;
    const itemsize = DTYPE_SIZE[this.dtype];
    const endByte = (this.lastElement() + 1) * itemsize;
    if (this.numel > 0 && (this.storageOffset * itemsize > this.storage.byteLength || endByte > this.storage.byteLength)) {
      throw new CorruptInputError(
        'E_TENSOR_OUT_OF_BOUNDS',
        `tensor ${where}: ${this.dtype}[${this.shape.join(', ')}] with strides [${this.strides.join(', ')}] at offset ${this.storageOffset} ` +
          `needs bytes up to ${endByte} but storage '${this.storage.key}' has ${this.storage.byteLength} bytes`,
        { tensor: where, storage: this.storage.key },
      );
    }
    this.validated = true;
  }

  /** Absolute offset of the tensor's first byte in the file, for contiguous tensors (a writer may copy the range). */
  get fileOffset(): number | undefined {
    if (!this.isContiguous) return undefined;
    return this.storage.bytesAt().offset + this.storageOffset * DTYPE_SIZE[this.dtype];
  }

  bytes(): Uint8Array {
    if (this.isContiguous && this.byteLength > 0) {
      // straight into the result: no intermediate buffer the size of the tensor
      this.validate(`in storage '${this.storage.key}'`);
      const { source, offset } = this.storage.bytesAt();
      return source.read(offset + this.storageOffset * DTYPE_SIZE[this.dtype], this.byteLength, allocateBytes(this.byteLength, `tensor in storage '${this.storage.key}'`));
    }
    const out = allocateBytes(this.byteLength, `tensor in storage '${this.storage.key}'`);
    let at = 0;
    for (const chunk of this.chunks(Math.max(this.byteLength, DTYPE_SIZE[this.dtype]))) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  readInto(offset: number, into: Uint8Array): boolean {
    if (!this.isContiguous) return false;
    this.validate(`in storage '${this.storage.key}'`);
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + into.byteLength <= this.byteLength)) {
      throw new HubertConvertError('internal', 'E_INTERNAL_TENSOR_RANGE', `bytes ${offset}..${offset + into.byteLength} asked of a ${this.byteLength}-byte tensor in storage '${this.storage.key}'`);
    }
    if (into.byteLength === 0) return true;
    const { source, offset: start } = this.storage.bytesAt();
    source.read(start + this.storageOffset * DTYPE_SIZE[this.dtype] + offset, into.byteLength, into);
    return true;
  }

  *chunks(maxBytes = DEFAULT_CHUNK_BYTES): Iterable<Uint8Array> {
    this.validate(`in storage '${this.storage.key}'`);
    if (this.byteLength === 0) return;
    const itemsize = DTYPE_SIZE[this.dtype];
    const step = Math.max(itemsize, maxBytes - (maxBytes % itemsize));
    const { source, offset } = this.storage.bytesAt();
    const buffer = takeBuffer(Math.min(step, this.byteLength));
    try {
      if (this.isContiguous) {
        const start = offset + this.storageOffset * itemsize;
        for (let at = 0; at < this.byteLength; at += buffer.byteLength) {
          yield source.read(start + at, Math.min(buffer.byteLength, this.byteLength - at), buffer);
        }
        return;
      }
      yield* this.gather(source, offset, buffer);
    } finally {
      giveBack(buffer);
    }
  }

  /** Strided view → C order: read the span the view covers once, copy its contiguous trailing blocks in order. */
  private *gather(source: ByteSource, storageStart: number, buffer: Uint8Array): Iterable<Uint8Array> {
    const itemsize = DTYPE_SIZE[this.dtype];
    const span = source.read(storageStart + this.storageOffset * itemsize, (this.lastElement() - this.storageOffset + 1) * itemsize);
    // trailing dimensions that are laid out contiguously form one block copied with a single set()
    const rank = this.shape.length;
    let blockDims = rank;
    let blockElems = 1;
    while (blockDims > 0 && this.strides[blockDims - 1] === blockElems) {
      blockDims--;
      blockElems *= this.shape[blockDims]!;
    }
    const blockBytes = blockElems * itemsize;
    const index = new Array<number>(blockDims).fill(0);
    let fill = 0;
    for (let done = 0; done < this.numel; done += blockElems) {
      let src = 0;
      for (let d = 0; d < blockDims; d++) src += index[d]! * this.strides[d]!;
      src *= itemsize;
      for (let copied = 0; copied < blockBytes; ) {
        const n = Math.min(blockBytes - copied, buffer.byteLength - fill);
        buffer.set(span.subarray(src + copied, src + copied + n), fill);
        fill += n;
        copied += n;
        if (fill === buffer.byteLength) {
          yield buffer;
          fill = 0;
        }
      }
      for (let d = blockDims - 1; d >= 0; d--) {
        if (++index[d]! < this.shape[d]!) break;
        index[d] = 0;
      }
    }
    if (fill > 0) yield buffer.subarray(0, fill);
  }
}

// ------------------------------------------------------------------------------------------- distinct-element rule

/**
 * Why the elements of a view are not all distinct bytes of its storage, or null when they are. A broadcast view
 * (stride 0 on a dimension longer than 1) or an overlapping one (strides that give two indices the same offset)
 * would let a few bytes of a file stand for a huge tensor. Exact and cheap: the usual layouts (contiguous, narrowed,
 * transposed, permuted) pass a sorted-stride test; anything else is decided by marking offsets in a bitmap the size
 * of the span the view covers, which lies inside the storage, so the work is bounded by the file's own bytes.
 */
export function viewRepeats(shape: readonly number[], strides: readonly number[]): { kind: 'broadcast'; dim: number } | { kind: 'overlap' } | null {
  if (shape.includes(0)) return null;
  const dims: number[] = [];
  for (let d = 0; d < shape.length; d++) {
    if (shape[d]! <= 1) continue;
    if (strides[d] === 0) return { kind: 'broadcast', dim: d };
    dims.push(d);
  }
  dims.sort((a, b) => strides[a]! - strides[b]!);
  // each stride must step past everything the faster dimensions reach: then every offset is distinct
  let reach = 0;
  let sorted = true;
  for (const d of dims) {
    if (strides[d]! <= reach) sorted = false;
    reach += (shape[d]! - 1) * strides[d]!;
  }
  if (sorted) return null;
  const span = reach + 1;
  let numel = 1;
  for (const d of dims) numel *= shape[d]!;
  if (numel > span) return { kind: 'overlap' }; // more elements than offsets
  const seen = new Uint8Array(Math.ceil(span / 8));
  const index = new Array<number>(dims.length).fill(0);
  for (let n = 0; n < numel; n++) {
    let at = 0;
    for (let i = 0; i < dims.length; i++) at += index[i]! * strides[dims[i]!]!;
    const bit = 1 << (at & 7);
    if (seen[at >> 3]! & bit) return { kind: 'overlap' };
    seen[at >> 3]! |= bit;
    for (let i = 0; i < dims.length; i++) {
      if (++index[i]! < shape[dims[i]!]!) break;
      index[i] = 0;
    }
  }
  return null;
}

const SAVE_CONTIGUOUS = 'save the tensor with .contiguous() (or .clone()) before torch.save, or convert from the original training checkpoint';

/** The byte range a non-empty view covers in its file, and the offsets of its elements relative to it. */
function fileSpan(t: LazyTensor): { source: ByteSource; begin: number; end: number } | null {
  if (t.numel === 0) return null;
  const itemsize = DTYPE_SIZE[t.dtype];
  let last = 0;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.strides[i]!;
  const { source, offset } = t.storage.bytesAt();
  const begin = offset + t.storageOffset * itemsize;
  return { source, begin, end: begin + (last + 1) * itemsize };
}

/** Marks the bytes of every element of `t` (relative to `base`) in `bitmap`; true when one was already marked. */
function markElements(t: LazyTensor, base: number, bitmap: Uint8Array): boolean {
  const itemsize = DTYPE_SIZE[t.dtype];
  const { begin } = fileSpan(t)!;
  const index = new Array<number>(t.shape.length).fill(0);
  for (let n = 0; n < t.numel; n++) {
    let at = begin - base;
    for (let i = 0; i < t.shape.length; i++) at += index[i]! * t.strides[i]! * itemsize;
    for (let b = at; b < at + itemsize; b++) {
      const bit = 1 << (b & 7);
      if (bitmap[b >> 3]! & bit) return true;
      bitmap[b >> 3]! |= bit;
    }
    for (let i = t.shape.length - 1; i >= 0; i--) {
      if (++index[i]! < t.shape[i]!) break;
      index[i] = 0;
    }
  }
  return false;
}

/**
 * The rule for the tensors a conversion keeps: every element of every tensor is its own bytes of the file. A
 * broadcast view (E_TENSOR_BROADCAST) or an overlapping one, within a tensor or between two tensors
 * (E_TENSOR_OVERLAP), is refused, so what is written stays proportional to what was read. Tensors that are not
 * LazyTensors (safetensors files, whose reader already refuses overlaps) pass. `names` gives each tensor's name
 * for messages. Costs nothing for the usual layouts; see viewRepeats for the rest.
 */
export function checkDistinctElements(tensors: Iterable<[string, TensorData]>): void {
  const spans: Array<{ name: string; tensor: LazyTensor; source: ByteSource; begin: number; end: number }> = [];
  for (const [name, tensor] of tensors) {
    if (!(tensor instanceof LazyTensor)) continue;
    tensor.validate(name);
    const repeats = viewRepeats(tensor.shape, tensor.strides);
    const view = `${tensor.dtype}[${tensor.shape.join(', ')}] with strides [${tensor.strides.join(', ')}]`;
    if (repeats?.kind === 'broadcast') {
      throw new CorruptInputError(
        'E_TENSOR_BROADCAST',
        `tensor ${name}: ${view} is a broadcast view (stride 0 on dimension ${repeats.dim} of size ${tensor.shape[repeats.dim]}): ${tensor.numel} elements stored in fewer bytes; hubert-convert converts only tensors whose elements are distinct bytes of the file, so ${SAVE_CONTIGUOUS}`,
        { tensor: name, shape: [...tensor.shape], strides: [...tensor.strides] },
      );
    }
    if (repeats?.kind === 'overlap') {
      throw new CorruptInputError(
        'E_TENSOR_OVERLAP',
        `tensor ${name}: ${view} is an overlapping view (two of its elements share bytes of storage '${tensor.storage.key}'); hubert-convert converts only tensors whose elements are distinct bytes of the file, so ${SAVE_CONTIGUOUS}`,
        { tensor: name, shape: [...tensor.shape], strides: [...tensor.strides] },
      );
    }
    const span = fileSpan(tensor);
    if (span) spans.push({ name, tensor, ...span });
  }
  // between tensors: spans that do not intersect are fine; intersecting ones (interleaved views) are checked exactly
  spans.sort((a, b) => (a.source === b.source ? a.begin - b.begin : a.source.name < b.source.name ? -1 : 1));
  for (let i = 0; i < spans.length; ) {
    let j = i + 1;
    let end = spans[i]!.end;
    while (j < spans.length && spans[j]!.source === spans[i]!.source && spans[j]!.begin < end) end = Math.max(end, spans[j++]!.end);
    if (j - i > 1) {
      const group = spans.slice(i, j);
      const bitmap = new Uint8Array(Math.ceil((end - group[0]!.begin) / 8));
      for (const s of group) {
        if (markElements(s.tensor, group[0]!.begin, bitmap)) {
          const earlier = group.slice(0, group.indexOf(s)).map((g) => g.name);
          const with_ = earlier.length === 1 ? `tensor ${earlier[0]}` : `one of ${earlier.join(', ')}`;
          throw new CorruptInputError(
            'E_TENSOR_OVERLAP',
            `tensor ${s.name} shares bytes of storage '${s.tensor.storage.key}' with ${with_}; hubert-convert converts only tensors whose elements are distinct bytes of the file (a shared or tied tensor must be saved once), so ${SAVE_CONTIGUOUS}`,
            { tensors: [...earlier, s.name] },
          );
        }
      }
    }
    i = j;
  }
}

/** checkDistinctElements over the tensors a conversion keeps, named by source and HF name in messages. */
export function checkConvertedTensors(conversion: {
  mapped: ReadonlyArray<{ source: string; target: string }>;
  model: { tensors: ReadonlyMap<string, TensorData>; projection?: { name: string; weight: TensorData; bias: TensorData } };
}): void {
  // the projection head kept beside the model (mapped as `<name>.weight` / `<name>.bias`) is held to the same rule
  const p = conversion.model.projection;
  const head = new Map<string, TensorData>(p ? [[`${p.name}.weight`, p.weight], [`${p.name}.bias`, p.bias]] : []);
  checkDistinctElements(
    conversion.mapped.flatMap((m): Array<[string, TensorData]> => {
      const tensor = conversion.model.tensors.get(m.target) ?? head.get(m.target);
      return tensor ? [[m.source === m.target ? m.source : `${m.source} (→ ${m.target})`, tensor]] : [];
    }),
  );
}
