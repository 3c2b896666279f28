/**
 * Read access to an HfModel's tensors for the reference forward: base-model names resolved under the `hubert.` prefix
 * heads use, every tensor shape-checked before use (a wrong shape must fail loudly, not read out of bounds), values
 * decoded to float64 on demand (exact for every float dtype) and not kept, so a base-size model never sits in memory
 * twice.
 */
import { CorruptInputError } from '../../errors.js';
import type { HfModel } from '../../model.js';
import { isFloatDType } from '../../dtype.js';
import { numelOf, toFloat64, type TensorData } from '../../tensor.js';
import { type TensorSchema, basePrefixOf, weightNormAliasOf } from '../../architectures/hubert/index.js';
import { specFor } from '../../architectures/index.js';

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * float32 tensors (nearly every checkpoint) widened by typed-array conversion, several times faster than toFloat64's
 * per-element DataView reads; exact like it. Chunks at unaligned offsets go through an aligned copy.
 */
function float32ToFloat64(tensor: TensorData): Float64Array {
  const out = new Float64Array(numelOf(tensor.shape));
  let at = 0;
  for (const chunk of tensor.chunks()) {
    const aligned = chunk.byteOffset % 4 === 0 ? chunk : chunk.slice();
    out.set(new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4), at);
    at += aligned.byteLength / 4;
  }
  return out;
}

/** The base-model prefix of head models' tensors (the spec's rule; re-exported for the reference's callers). */
export { basePrefixOf };

export class ReferenceWeights {
  readonly prefix: string;
  private schemaOf?: TensorSchema;
  constructor(private readonly model: HfModel) {
    this.prefix = basePrefixOf(model);
  }

  /** Names and shapes come from the architecture spec; the numerics that use them stay the reference's own. */
  get schema(): TensorSchema {
    this.schemaOf ??= specFor(this.model.config).schema(this.model.config, this.model.architecture);
    return this.schemaOf;
  }

  /** Full tensor name of a base-model parameter, following the pos-conv aliases. */
  resolveBase(name: string): string | null {
    const full = this.prefix + name;
    if (this.model.tensors.has(full)) return full;
    const alias = weightNormAliasOf(name);
    if (alias && this.model.tensors.has(this.prefix + alias)) return this.prefix + alias;
    return null;
  }

  hasBase(name: string): boolean {
    return this.resolveBase(name) !== null;
  }

  has(fullName: string): boolean {
    return this.model.tensors.has(fullName);
  }

  /** A base-model tensor as float64, checked against `shape` (default: the shape the spec gives the config). */
  base(name: string, shape: readonly number[] = this.schema.shape(name)): Float64Array {
    const full = this.resolveBase(name);
    if (full === null) {
      throw new CorruptInputError(
        'E_VERIFY_MISSING_TENSOR',
        `the model has no tensor "${this.prefix}${name}", which its config requires; the folder's weights and config.json do not match`,
        { tensor: this.prefix + name },
      );
    }
    return this.decode(full, shape);
  }

  /** A tensor by its full name (heads: `lm_head.weight`, `classifier.bias`…) as float64, checked against `shape`. */
  full(name: string, shape: readonly number[] = this.schema.shape(name)): Float64Array {
    if (!this.model.tensors.has(name)) {
      throw new CorruptInputError('E_VERIFY_MISSING_TENSOR', `the model has no tensor "${name}", which its config requires`, { tensor: name });
    }
    return this.decode(name, shape);
  }

  /** Shape of a full-named tensor, or null. */
  shapeOf(fullName: string): readonly number[] | null {
    return this.model.tensors.get(fullName)?.shape ?? null;
  }

  private decode(name: string, shape: readonly number[]): Float64Array {
    const tensor = this.model.tensors.get(name) as TensorData;
    if (tensor.shape.length !== shape.length || tensor.shape.some((d, i) => d !== shape[i])) {
      throw new CorruptInputError(
        'E_VERIFY_TENSOR_SHAPE',
        `tensor "${name}" has shape [${tensor.shape.join(', ')}] but the config implies [${shape.join(', ')}]`,
        { tensor: name, shape: [...tensor.shape], expected: [...shape] },
      );
    }
    if (!isFloatDType(tensor.dtype)) {
      throw new CorruptInputError('E_VERIFY_TENSOR_DTYPE', `tensor "${name}" has dtype ${tensor.dtype}; a float dtype is required`, { tensor: name });
    }
    return tensor.dtype === 'F32' && LITTLE_ENDIAN_HOST ? float32ToFloat64(tensor) : toFloat64(tensor);
  }
}

/** Conv1d weight [out, in, k] → [out][k][in], so each output is a dot product with a contiguous time-major slice. */
export function convWeightTimeMajor(weight: Float64Array, outChannels: number, inChannels: number, kernel: number): Float64Array {
  const out = new Float64Array(weight.length);
  for (let o = 0; o < outChannels; o++) {
    for (let c = 0; c < inChannels; c++) {
      for (let k = 0; k < kernel; k++) out[(o * kernel + k) * inChannels + c] = weight[(o * inChannels + c) * kernel + k]!;
    }
  }
  return out;
}
