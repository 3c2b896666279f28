/**
 * --labels: class names in class-index order. Each becomes a key of config.json's label2id, so an empty or repeated
 * name would silently give a label2id with fewer entries than the head has classes.
 */
import { UsageError } from './errors.js';

export function checkLabels(labels: readonly string[]): void {
  const empty = labels.flatMap((l, i) => (l.trim() === '' ? [i] : []));
  if (empty.length > 0) {
    throw new UsageError('E_LABELS_EMPTY', `--labels has an empty name at position ${empty.map((i) => i + 1).join(', ')} (of ${labels.length}); give every class a name, separated by commas`, { positions: empty });
  }
  const seen = new Map<string, number>();
  const repeated: string[] = [];
  labels.forEach((l, i) => {
    const first = seen.get(l);
    if (first === undefined) seen.set(l, i);
    else repeated.push(`"${l}" (positions ${first + 1} and ${i + 1})`);
  });
  if (repeated.length > 0) {
    throw new UsageError('E_LABELS_DUPLICATE', `--labels names a class more than once: ${repeated.join(', ')}; every class needs its own name`, { repeated });
  }
}
