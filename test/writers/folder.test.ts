import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSystemError } from '../../src/errors.js';
import { toHuggingFace } from '../../src/mappings/index.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { openHfWeightFiles } from '../../src/readers/hf-folder.js';
import { describeFile } from '../../src/source-info.js';
import { castTensor, numelOf } from '../../src/tensor.js';
import { writeHuggingFaceFolder } from '../../src/writers/folder.js';
import { fixture, readJsonFixture, sha256 } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-folder-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function converted(file: string, dictFile?: string) {
  const checkpoint = readCheckpoint(fixture(`checkpoints/${file}`));
  const conversion = toHuggingFace(checkpoint, dictFile ? { dictText: readFileSync(fixture(`checkpoints/${dictFile}`), 'utf8') } : {});
  return { checkpoint, conversion, source: describeFile(fixture(`checkpoints/${file}`)) };
}

/** The source tensor each written tensor came from, by checkpoint path. */
function sourceTensors(checkpoint: ReturnType<typeof readCheckpoint>) {
  return new Map(checkpoint.tensors.map((t) => [t.path, t.tensor]));
}

describe('writeHuggingFaceFolder', () => {
  it('writes every tensor bit for bit, the config, preprocessor, tokenizer and a truthful report', async () => {
    const { checkpoint, conversion, source } = converted('fairseq_ctc.pt', 'fairseq_ctc.dict.ltr.txt');
    const out = join(work, 'ctc');
    const report = await writeHuggingFaceFolder(conversion, out, { source });
    expect(readdirSync(out).sort()).toEqual(
      ['.gitattributes', 'README.md', 'config.json', 'conversion_report.json', 'model.safetensors', 'preprocessor_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json'],
    );
    const written = readSafetensors(join(out, 'model.safetensors'));
    expect(written.metadata).toEqual({ format: 'pt' });
    const sources = sourceTensors(checkpoint);
    for (const m of report.mapped) {
      expect(sha256(written.tensors.get(m.target)!.bytes()), m.target).toBe(sha256(sources.get(m.source)!.bytes()));
    }
    expect(written.tensors.size).toBe(report.mapped.length);

    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const { transformers_version: _, ...expected } = readJsonFixture('hf/fairseq_ctc/config.json');
    expect(config).toEqual(expected);
    expect(JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8'))).toEqual(readJsonFixture('hf/fairseq_ctc/vocab.json'));

    // the report names the source by file name and checksum, never by its local path
    expect(report.source).toEqual({ ...source, file: 'fairseq_ctc.pt', kind: 'fairseq-hubert-ctc' });
    expect(report.files.map((f) => f.path).sort()).toEqual(readdirSync(out).filter((f) => f !== 'conversion_report.json').sort());
    for (const f of report.files) {
      const bytes = readFileSync(join(out, f.path));
      expect({ path: f.path, bytes: bytes.byteLength, sha256: sha256(bytes) }).toEqual(f);
    }
    expect(JSON.parse(readFileSync(join(out, 'conversion_report.json'), 'utf8'))).toEqual(report);
    expect(report.dropped.map((d) => d.source)).toContain('model/w2v_encoder.w2v_model.label_embs_concat');
    written.close();
    checkpoint.close();
  });

  it('casts float tensors exactly with dtype and says so in the report', async () => {
    const { checkpoint, conversion, source } = converted('fairseq_bn_posconv.pt');
    const out = join(work, 'bf16');
    const report = await writeHuggingFaceFolder(conversion, out, { source, dtype: 'bf16' });
    const written = readSafetensors(join(out, 'model.safetensors'));
    // fairseq's final_proj is kept as the projection head, in its own file beside the model, and cast alike
    const head = readSafetensors(join(out, 'final_proj.safetensors'));
    expect([...head.tensors.keys()].sort()).toEqual(['final_proj.bias', 'final_proj.weight']);
    const sources = sourceTensors(checkpoint);
    for (const m of report.mapped) {
      const tensor = (m.target.startsWith('final_proj.') ? head : written).tensors.get(m.target)!;
      if (m.target.endsWith('num_batches_tracked')) {
        expect([tensor.dtype, m.cast]).toEqual(['I64', undefined]);
        continue;
      }
      expect([tensor.dtype, m.cast]).toEqual(['BF16', 'BF16']);
      expect(sha256(tensor.bytes())).toBe(sha256(castTensor(sources.get(m.source)!, 'BF16').bytes()));
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).dtype).toBe('bfloat16');
    written.close();
    head.close();
    checkpoint.close();
  });

  it('shards above max-shard-size, with an index transformers understands', async () => {
    const { checkpoint, conversion, source } = converted('fairseq_base_dict.pt');
    const out = join(work, 'sharded');
    const report = await writeHuggingFaceFolder(conversion, out, { source, maxShardBytes: 40_000 });
    const shards = report.files.filter((f) => f.path.endsWith('.safetensors')).map((f) => f.path);
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toMatch(/^model-00001-of-0000\d\.safetensors$/);
    const weights = openHfWeightFiles(out);
    // every mapped tensor but the projection head, which is final_proj.safetensors (never a shard)
    expect(report.files.map((f) => f.path)).toContain('final_proj.safetensors');
    expect(weights.tensors.size).toBe(report.mapped.filter((m) => !m.target.startsWith('final_proj.')).length);
    expect(report.mapped.length - weights.tensors.size).toBe(2);
    const total = [...weights.tensors.values()].reduce((s, t) => s + t.byteLength, 0);
    expect(JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')).metadata.total_size).toBe(total);
    weights.close();
    checkpoint.close();
  });

  it('refuses a non-empty output folder without force; force replaces only a folder it wrote', async () => {
    const { checkpoint, conversion, source } = converted('fairseq_base_dict.pt');
    const out = join(work, 'existing');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await expect(writeHuggingFaceFolder(conversion, out, { source })).rejects.toMatchObject({ constructor: FileSystemError, code: 'E_OUTPUT_EXISTS' });
    // a folder someone else wrote is theirs to remove, even with force
    await expect(writeHuggingFaceFolder(conversion, out, { source, force: true })).rejects.toMatchObject({ constructor: FileSystemError, code: 'E_OUTPUT_NOT_OURS' });
    expect(readdirSync(out)).toEqual(['keep.txt']);
    rmSync(join(out, 'keep.txt'));
    await writeHuggingFaceFolder(conversion, out, { source });
    const first = readFileSync(join(out, 'conversion_report.json'), 'utf8');
    await writeHuggingFaceFolder(conversion, out, { source, force: true, dtype: 'fp16' });
    expect(readFileSync(join(out, 'conversion_report.json'), 'utf8')).not.toBe(first);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
    checkpoint.close();
  });

  it('leaves nothing behind when a step fails midway', async () => {
    const { checkpoint, conversion, source } = converted('fairseq_base_dict.pt');
    const out = join(work, 'failing');
    const failing = new Map(conversion.model.tensors);
    const [name, tensor] = [...failing][3]!;
    failing.set(name, {
      ...tensor,
      dtype: tensor.dtype,
      shape: tensor.shape,
      byteLength: tensor.byteLength,
      bytes: () => tensor.bytes(),
      *chunks() {
        yield new Uint8Array(Math.min(4, numelOf(tensor.shape) * 4));
        throw new Error('disk on fire');
      },
    });
    await expect(writeHuggingFaceFolder({ ...conversion, model: { ...conversion.model, tensors: failing } }, out, { source })).rejects.toThrow('disk on fire');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((n) => n.includes('failing'))).toEqual([]);
    checkpoint.close();
  });
});
