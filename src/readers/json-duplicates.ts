/**
 * Finds a repeated key inside any object of a JSON text. JSON.parse silently keeps the last of two equal keys, which
 * would let a file show one tensor entry to us and another to a different reader; formats that must be unambiguous
 * (safetensors headers, index files) refuse such texts instead.
 *
 * The text must already be valid JSON (call JSON.parse first): this walker only tracks nesting and object keys.
 * It uses an explicit stack, so deep nesting cannot overflow the call stack.
 */

export interface DuplicateKey {
  /** The repeated key, decoded (so `"a"` and `"\u0061"` count as the same key). */
  key: string;
  /** The key of the object holding it, or null for the top-level object (or an object inside an array at top). */
  parentKey: string | null;
}

interface Frame {
  keys: Set<string> | null; // null: an array
  expectKey: boolean;
  lastKey: string | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function findDuplicateKey(text: string): DuplicateKey | null {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    switch (c) {
      case 0x7b: // {
        stack.push({ keys: new Set(), expectKey: true, lastKey: null });
        break;
      case 0x5b: // [
        stack.push({ keys: null, expectKey: false, lastKey: null });
        break;
      case 0x7d: // }
      case 0x5d: // ]
        stack.pop();
        break;
      case 0x2c: // ,
        if (top?.keys) top.expectKey = true;
        break;
      case QUOTE: {
        let end = i + 1;
        let escaped = false;
        while (text.charCodeAt(end) !== QUOTE) {
          if (text.charCodeAt(end) === BACKSLASH) {
            escaped = true;
            end += 2;
          } else {
            end += 1;
          }
        }
        if (top?.keys && top.expectKey) {
          const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
          if (top.keys.has(key)) {
            const parent = stack[stack.length - 2];
            return { key, parentKey: parent?.lastKey ?? null };
          }
          top.keys.add(key);
          top.expectKey = false;
          top.lastKey = key;
        }
        i = end;
        break;
      }
      default:
        break;
    }
  }
  return null;
}
