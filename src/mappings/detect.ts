import { UnsupportedModelError } from '../errors.js';
import { readHints } from './source-hints.js';
import { REFUSED_FAMILIES, SOURCES } from './sources/registry.js';
import type { SourceKind } from './types.js';

export interface Detection {
  kind: SourceKind;
  /** Why we think so, for `inspect` and for error messages. */
  evidence: string;
}

function describeTop(root: unknown): string {
  if (!(root instanceof Map)) return `a ${Array.isArray(root) ? 'list' : root === null ? 'None' : typeof root} at the top level`;
  const keys = [...root.keys()].filter((k): k is string => typeof k === 'string');
  return `top-level keys ${keys.slice(0, 12).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 12 ? ', …' : ''}`;
}

/**
 * Recognises the source family (never from the file name): every registered source and refused family judges the
 * file, the most confident wins (a declared `_name`/`arch` over structure; a refusal over a source at equal
 * confidence). A family hubert-convert does not convert is refused by name; an unrecognised file gets an error that
 * says what was found.
 */
export function detectSource(root: unknown, file: string): Detection {
  const hints = readHints(root);
  let best: { score: number; evidence: string; kind?: SourceKind; refused?: (typeof REFUSED_FAMILIES)[number] } | undefined;
  for (const refused of REFUSED_FAMILIES) {
    const r = refused.recognise(hints);
    if (r && (!best || r.score > best.score)) best = { ...r, refused };
  }
  for (const source of SOURCES) {
    const r = source.recognise(hints);
    if (r && (!best || r.score > best.score)) best = { ...r, kind: source.kind };
  }
  if (best?.refused) {
    throw new UnsupportedModelError(
      'E_UNSUPPORTED_FAMILY',
      `${file}: this is a ${best.refused.family} checkpoint (${best.evidence}), not HuBERT; hubert-convert converts HuBERT models only (${best.refused.hint})`,
      { family: best.refused.family, evidence: best.evidence },
    );
  }
  if (best?.kind) return { kind: best.kind, evidence: best.evidence };
  throw new UnsupportedModelError(
    'E_UNKNOWN_SOURCE',
    `${file}: not a checkpoint kind hubert-convert recognises (found ${describeTop(root)}). Supported: ${SOURCES.map((s) => s.describe).join(', ')}; use --kind to force one`,
  );
}
