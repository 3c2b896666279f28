/**
 * Layering: the format layers (zip, pickle, torch, safetensors and its index, lazy tensors, the safetensors writers,
 * the ONNX protobuf and graph) reach files only through ByteSource / ByteSink (src/byte-source.ts). Neither they nor
 * any module they import may import a `node:*` module or use Node's Buffer; src/node-files.ts is the one that knows fs.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { REPO } from '../helpers/cli.js';

const SRC = join(REPO, 'src');
const FORMAT_LAYERS = [
  'readers/zip.ts',
  ...readdirSync(join(SRC, 'readers/pickle')).filter((f) => f.endsWith('.ts')).map((f) => `readers/pickle/${f}`),
  'readers/torch.ts',
  'readers/kmeans.ts',
  'readers/safetensors.ts',
  'readers/safetensors-index.ts',
  'readers/lazy-tensor.ts',
  'readers/json-bounded.ts',
  'readers/onnx-model.ts',
  'verify/piecewise.ts',
  ...readdirSync(join(SRC, 'writers')).filter((f) => /^safetensors.*\.ts$/.test(f)).map((f) => `writers/${f}`),
  'writers/onnx/proto.ts',
  'writers/onnx/graph.ts',
];

/** Relative imports of a module, as source paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/from '(\.\.?\/[^']+)\.js'/g)].map((m) => resolve(dirname(file), `${m[1]}.ts`)).filter((f) => existsSync(f));
}

/** `node:` imports and Buffer uses in a module's code (comments ignored). */
function nodeUses(file: string): string[] {
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|\s)\/\/\s.*$/gm, '');
  return [...code.matchAll(/from 'node:[^']+'|import\('node:[^']+'\)|\bBuffer\.\w+/g)].map((m) => m[0]);
}

describe('format layers import no node:* module, directly or through their imports', () => {
  test('the list of format-layer files is what the project has', () => {
    expect(FORMAT_LAYERS.every((f) => existsSync(join(SRC, f)))).toBe(true);
    expect(FORMAT_LAYERS).toContain('writers/safetensors-sharded.ts');
  });

  for (const layer of FORMAT_LAYERS) {
    test(layer, () => {
      const seen = new Set<string>();
      const queue = [join(SRC, layer)];
      const offenders: string[] = [];
      while (queue.length > 0) {
        const file = queue.pop()!;
        if (seen.has(file)) continue;
        seen.add(file);
        for (const use of nodeUses(file)) offenders.push(`${relative(SRC, file)}: ${use}`);
        queue.push(...importsOf(file));
      }
      expect(offenders).toEqual([]);
    });
  }

  test('the checker sees a node import (it can fail)', () => {
    expect(nodeUses(join(SRC, 'node-files.ts'))).toContain("from 'node:fs'");
  });
});
