/**
 * JSON from input files, parsed with limits: size, nesting depth, and how many members one object or array has.
 * One walk over the text (explicit stack, so no depth can overflow the call stack; it stops at the end of the text
 * whatever the text is) enforces the limits and finds repeated keys before JSON.parse builds anything. JSON.parse
 * silently keeps the last of two equal keys, which would let a file show one entry to us and another to a different
 * reader, so formats that must be unambiguous refuse such texts (`duplicates: 'refuse'`).
 *
 * Messages never quote the text: a file that is not JSON may be anything (a foreign file linked in its place).
 */

export interface JsonLimits {
  /** Characters of text (the caller caps the bytes read). */
  maxChars: number;
  /** Deepest nesting of arrays and objects; the top-level value is depth 1. */
  maxDepth: number;
  /** Members of any one object, or elements of any one array. */
  maxEntries: number;
}

/** Generous for every JSON file of a model folder (a tokenizer.json nests 5 deep; config.json 3). */
export const DEFAULT_JSON_LIMITS: JsonLimits = { maxChars: 64 << 20, maxDepth: 64, maxEntries: 1 << 20 };

export type JsonProblem = 'size' | 'depth' | 'entries' | 'syntax' | 'duplicate';

export type BoundedJson =
  | { ok: true; value: unknown }
  | {
      ok: false;
      problem: JsonProblem;
      /** One line for a message, never quoting the text. */
      reason: string;
      /** For 'duplicate': the repeated key and the key of the object holding it (null at top level). */
      key?: string;
      parentKey?: string | null;
    };

interface Frame {
  object: boolean;
  /** Keys seen, when duplicates are refused (objects only). */
  keys: Set<string> | null;
  expectKey: boolean;
  lastKey: string | null;
  commas: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

export function parseBoundedJson(text: string, limits: Partial<JsonLimits> = {}, options: { duplicates?: 'refuse' | 'last-wins' } = {}): BoundedJson {
  const { maxChars, maxDepth, maxEntries } = { ...DEFAULT_JSON_LIMITS, ...limits };
  if (text.length > maxChars) return { ok: false, problem: 'size', reason: `${text.length} characters exceed the ${maxChars}-character limit` };
  const refuseDuplicates = options.duplicates === 'refuse';
  let duplicate: { key: string; parentKey: string | null } | null = null;
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (WHITESPACE.has(c)) continue;
    const top = stack[stack.length - 1];
    switch (c) {
      case 0x7b: // {
      case 0x5b: // [
        if (stack.length >= maxDepth) return { ok: false, problem: 'depth', reason: `nesting deeper than ${maxDepth} levels` };
        stack.push({ object: c === 0x7b, keys: c === 0x7b && refuseDuplicates ? new Set() : null, expectKey: c === 0x7b, lastKey: null, commas: 0 });
        break;
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop();
        break;
      case 0x2c: // ,
        if (top) {
          top.expectKey = top.object; // in an object, a key comes next
          // n commas separate n + 1 entries
          if (++top.commas >= maxEntries) {
            return { ok: false, problem: 'entries', reason: `more than ${maxEntries} entries in one ${top.object ? 'object' : 'array'}` };
          }
        }
        break;
      case QUOTE: {
        let end = i + 1;
        let escaped = false;
        while (end < text.length && text.charCodeAt(end) !== QUOTE) {
          if (text.charCodeAt(end) === BACKSLASH) {
            escaped = true;
            end += 2;
          } else {
            end += 1;
          }
        }
        if (end >= text.length) return { ok: false, problem: 'syntax', reason: 'an unterminated string' };
        if (top?.keys && top.expectKey && duplicate === null) {
          let key: string;
          try {
            key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
          } catch {
            return { ok: false, problem: 'syntax', reason: `a bad string escape at character ${i}` };
          }
          if (top.keys.has(key)) duplicate = { key, parentKey: stack[stack.length - 2]?.lastKey ?? null };
          top.keys.add(key);
          top.lastKey = key;
        }
        if (top?.keys) top.expectKey = false;
        i = end;
        break;
      }
      default:
        break;
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // V8's message quotes the text; keep only where it failed
    const at = /position (\d+)/.exec((error as Error).message)?.[1];
    return { ok: false, problem: 'syntax', reason: at === undefined ? 'not valid JSON' : `not valid JSON (at character ${at})` };
  }
  if (duplicate) {
    return { ok: false, problem: 'duplicate', reason: `key "${duplicate.key}" appears twice`, key: duplicate.key, parentKey: duplicate.parentKey };
  }
  return { ok: true, value };
}

/** UTF-8 bytes → text, or null when they are not valid UTF-8 (a leading BOM is kept, so JSON.parse refuses it). */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** A JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
