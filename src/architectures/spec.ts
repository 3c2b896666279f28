/**
 * What an architecture spec is: the one place that says what a model of a given config consists of. Every stage asks
 * it (mapping derives a config and is held to the schema, the HF-folder reader fills defaults and normalises names,
 * convert validates before writing, the ONNX builder and the float64 reference take names and shapes from it, and
 * verify's config check holds a folder to it). No stage carries its own copy of these facts.
 *
 * The spec is data plus pure functions: it imports no `node:*` module and reads no file.
 */
import type { DType } from '../dtype.js';

/** One config.json field: its type, the range HF accepts, and transformers' default. */
export interface ConfigField {
  readonly name: string;
  readonly type: 'int' | 'number' | 'bool' | 'string' | 'int-list' | 'enum';
  /** Inclusive bounds for numbers and list elements (`exclusiveMin`/`exclusiveMax` for open ends). */
  readonly min?: number;
  readonly max?: number;
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
  /** `enum`: the allowed values. */
  readonly values?: readonly string[];
  /** `int-list`: longest list accepted. */
  readonly maxLength?: number;
  /** The rule in words, for messages: "an integer from 1 to 1000". */
  readonly rule: string;
}

/** A config that breaks a rule: the field (or fields), the rule, and the value found. */
export interface ConfigViolation {
  field: string;
  rule: string;
  value: unknown;
  /** The field is absent (so transformers would silently use its default). */
  missing?: boolean;
}

/** Element types a tensor of the schema may have. */
export type TensorKind = 'float' | 'int64';

export interface TensorEntry {
  /** Canonical name: the HF state-dict name without the base-model prefix (base parts) or the head's own name. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: TensorKind;
  /** The part of the model it belongs to (`feature_encoder`, `encoder_layer`, `ctc_head`, …): what optional parts switch. */
  readonly part: string;
  /** Part of the base model (stored under the heads' `hubert.` prefix), as opposed to a head tensor. */
  readonly base: boolean;
  /** Encoder layer index, for layer parts: lets a graph that ends at layer N ask only for what it reads. */
  readonly layer?: number;
}

export interface TensorMismatch {
  /** Stored (full) name. */
  name: string;
  shape: readonly number[];
  dtype: DType;
  expected?: TensorEntry;
}

/** The tensors a folder or conversion holds, compared with the schema. */
export interface SchemaMatch {
  missing: TensorEntry[];
  unexpected: TensorMismatch[];
  wrongShape: Array<TensorMismatch & { expected: TensorEntry }>;
  wrongDtype: Array<TensorMismatch & { expected: TensorEntry }>;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
