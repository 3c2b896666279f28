/**
 * k-means quantizers: fairseq learn_kmeans.py's joblib dump and bshall's torch dict, read as data (cluster centres
 * equal to what sklearn/torch load, bit for bit), and hostile or broken files as typed errors, each also through the
 * CLI sandbox (exit code, error code, nothing left behind, within the 2 s / 300 MB bounds).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BufferSource } from '../../src/byte-source.js';
import { EXIT_CODES } from '../../src/errors.js';
import { readKMeans } from '../../src/readers/kmeans.js';
import { MemoryTensor } from '../../src/tensor.js';
import { fixture, sha256 } from '../helpers/fixtures.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';
import { torchSave } from '../helpers/torch-save.js';

const JOBLIB = readFileSync(fixture('checkpoints/contentvec_legacy_L3_km10.bin'));
const BSHALL = readFileSync(fixture('checkpoints/hubert_discrete_kmeans.pt'));
const read = (bytes: Uint8Array, name = 'km.bin') => readKMeans(new BufferSource(bytes, name));

/** The fixture with `from` replaced by `to` (once; both given as latin1 text or bytes). */
function edited(from: Uint8Array | string, to: Uint8Array | string, base: Uint8Array = JOBLIB): Uint8Array {
  const f = typeof from === 'string' ? Buffer.from(from, 'latin1') : Buffer.from(from);
  const t = typeof to === 'string' ? Buffer.from(to, 'latin1') : Buffer.from(to);
  const at = Buffer.from(base).indexOf(f);
  if (at < 0) throw new Error(`pattern not in the fixture: ${f.toString('latin1')}`);
  return Buffer.concat([base.subarray(0, at), t, base.subarray(at + f.byteLength)]);
}

describe('fixtures', () => {
  it('the joblib dump: a MiniBatchKMeans with 10 × 16 float32 centres at bytes 784..1424 (FAMILY.md §1.3)', () => {
    const q = read(JOBLIB, 'contentvec_legacy_L3_km10.bin');
    expect([q.format, q.estimator, q.clusters, q.dim]).toEqual(['joblib-sklearn', 'sklearn.cluster._kmeans.MiniBatchKMeans', 10, 16]);
    const raw = JOBLIB.subarray(784, 1424);
    expect(sha256(new Uint8Array(q.centers.buffer))).toBe(sha256(raw));
    expect(q.globals.map((g) => g.name).sort()).toEqual(['joblib.numpy_pickle.NumpyArrayWrapper', 'numpy._core.multiarray.scalar', 'numpy.dtype', 'numpy.ndarray', 'sklearn.cluster._kmeans.MiniBatchKMeans']);
  });

  it("bshall's torch dict: 10 × 16 centres, the tensor's bytes", () => {
    const q = read(BSHALL, 'hubert_discrete_kmeans.pt');
    expect([q.format, q.estimator, q.clusters, q.dim]).toEqual(['torch-dict', null, 10, 16]);
    expect(Array.from(q.centers.slice(0, 2))).toEqual([Math.fround(-1.1586694717407227), Math.fround(-0.7873435020446777)]);
  });
});

describe('hostile and broken k-means files: typed errors', () => {
  const cases: Array<{ name: string; bytes: () => Uint8Array; exit: number; code: string; message: RegExp }> = [
    {
      name: 'a global that runs code (os.system in place of the estimator class)',
      bytes: () => edited('\x8c\x17sklearn.cluster._kmeans\x94\x8c\x0fMiniBatchKMeans', '\x8c\x02os\x94\x8c\x06system'),
      exit: EXIT_CODES.unsafe, code: 'E_PICKLE_UNSAFE_GLOBAL', message: /os\.system/,
    },
    {
      name: 'a global outside the allow-list (a foreign estimator)',
      bytes: () => edited('\x8c\x0fMiniBatchKMeans', '\x8c\x0fMiniBatchKMeanZ'),
      exit: EXIT_CODES.unsafe, code: 'E_PICKLE_UNSAFE_GLOBAL', message: /not on the allow-list/,
    },
    { name: 'an object-dtype array (a nested pickle)', bytes: () => edited('\x8c\x02f4', '\x8c\x02O8'), exit: EXIT_CODES.corrupt, code: 'E_KMEANS_OBJECT_ARRAY', message: /object-dtype array/ },
    { name: 'truncated inside the centres', bytes: () => JOBLIB.subarray(0, 1000), exit: EXIT_CODES.corrupt, code: 'E_PICKLE_TRUNCATED', message: /needs 640 bytes after the BUILD but only 216 remain/ },
    { name: 'a shape larger than the file', bytes: () => edited('K\x0aK\x10\x86', 'M\xff\xffK\x10\x86'), exit: EXIT_CODES.corrupt, code: 'E_PICKLE_TRUNCATED', message: /truncated file/ },
    { name: 'n_features_in_ contradicting the centres', bytes: () => edited('n_features_in_\x94K\x10', 'n_features_in_\x94K\x0f'), exit: EXIT_CODES.corrupt, code: 'E_KMEANS_SHAPE', message: /n_features_in_ is 15 but cluster_centers_ has shape \[10, 16\]/ },
    {
      name: 'a NaN centre',
      bytes: () => Buffer.concat([JOBLIB.subarray(0, 784), Buffer.from([0, 0, 0xc0, 0x7f]), JOBLIB.subarray(788)]),
      exit: EXIT_CODES.corrupt, code: 'E_KMEANS_NON_FINITE', message: /cluster centre 0 holds NaN/,
    },
    { name: 'bytes after the pickle', bytes: () => Buffer.concat([JOBLIB, Buffer.from('extra')]), exit: EXIT_CODES.corrupt, code: 'E_KMEANS_TRAILING', message: /5 bytes follow/ },
    { name: 'a compressed joblib dump', bytes: () => Buffer.concat([Buffer.from('ZF0x'), JOBLIB]), exit: EXIT_CODES.unsupported, code: 'E_KMEANS_COMPRESSED', message: /uncompressed/ },
    { name: 'a model checkpoint instead of a quantizer', bytes: () => readFileSync(fixture('checkpoints/fairseq_base_dict.pt')), exit: EXIT_CODES.unsupported, code: 'E_KMEANS_NOT_KMEANS', message: /cluster_centers_/ },
    {
      name: 'a torch dict whose centres are 1-D',
      bytes: () => torchSave(new Map<string, unknown>([['n_features_in_', 16], ['cluster_centers_', MemoryTensor.fromFloat32([16], new Float32Array(16))]])),
      exit: EXIT_CODES.corrupt, code: 'E_KMEANS_SHAPE', message: /shape \[16\]/,
    },
    { name: 'an empty file', bytes: () => new Uint8Array(0), exit: EXIT_CODES.corrupt, code: 'E_EMPTY_FILE', message: /empty/ },
  ];

  for (const c of cases) {
    it(c.name, () => {
      expect(() => read(c.bytes())).toThrow(expect.objectContaining({ code: c.code, exitCode: c.exit, message: expect.stringMatching(c.message) }));
    });
  }

  describe('through the CLI (convert --kmeans): exit code and error code, nothing written, within bounds', () => {
    const box = new Sandbox();
    afterAll(() => box.dispose());
    for (const c of cases) {
      it(c.name, () => {
        const path = join(box.root, `${c.code}.bin`);
        writeFileSync(path, c.bytes());
        const r = box.run(['convert', fixture('hf/contentvec_legacy'), '--out', 'out', '--output-layer', '3', '--kmeans', path, '-q']);
        expect([r.status, errorCode(r.stderr)]).toEqual([c.exit, c.code]);
        expect(r.leftovers).toEqual([]);
        expect(r.ms).toBeLessThan(2000);
        expect(r.peakMiB).toBeLessThan(300);
      });
    }
  });
});
