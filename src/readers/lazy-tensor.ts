import type { ByteSource } from '../byte-source.js';
import { DTYPE_SIZE, type DType } from '../dtype.js';
import { CorruptInputError, HubertConvertError } from '../errors.js';
import { DEFAULT_CHUNK_BYTES, type TensorData, numelOf } from '../tensor.js';

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

function takeBuffer(byteLength: number): Uint8Array {
  if (spare && spare.byteLength >= byteLength) {
    const reused = new Uint8Array(spare, 0, byteLength);
    spare = null;
    return reused;
  }
  // uninitialised memory: every byte is overwritten by the read before it is yielded
  return new Uint8Array(Buffer.allocUnsafeSlow(byteLength).buffer, 0, byteLength);
}

function giveBack(buffer: Uint8Array): void {
  const whole = buffer.buffer as ArrayBuffer;
  if (whole.byteLength <= MAX_SPARE_BYTES && (!spare || spare.byteLength < whole.byteLength)) spare = whole;
}

function contiguousStrides(shape: readonly number[]): number[] {
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
    this.numel = numelOf(shape);
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
      return source.read(offset + this.storageOffset * DTYPE_SIZE[this.dtype], this.byteLength, new Uint8Array(this.byteLength));
    }
    const out = new Uint8Array(this.byteLength);
    let at = 0;
    for (const chunk of this.chunks(Math.max(this.byteLength, DTYPE_SIZE[this.dtype]))) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
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
