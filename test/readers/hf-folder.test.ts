import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSystemError, UnsupportedModelError } from '../../src/errors.js';
import { readHfFolder } from '../../src/readers/hf-folder.js';
import { writeShardedSafetensors } from '../../src/writers/disk-safetensors.js';
import { writeFileAtomic } from '../../src/writers/atomic.js';
import { fixture, sha256 } from '../helpers/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hubert-hf-folder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function digest(folder: ReturnType<typeof readHfFolder>): Record<string, string> {
  return Object.fromEntries([...folder.model.tensors].map(([n, t]) => [n, `${t.dtype}${JSON.stringify(t.shape)}${sha256(t.bytes())}`]));
}

describe('readHfFolder', () => {
  const safetensors = readHfFolder(fixture('hf/fairseq_base_dict'));
  afterAll(() => safetensors.close());

  it('reads transformers 5 safetensors folders and renames parametrizations to weight_g / weight_v', () => {
    expect(safetensors.model.architecture).toBe('HubertModel');
    expect(safetensors.model.tensors.has('encoder.pos_conv_embed.conv.weight_g')).toBe(true);
    expect(safetensors.storedNames.get('encoder.pos_conv_embed.conv.weight_v')).toBe('encoder.pos_conv_embed.conv.parametrizations.weight.original1');
    expect(safetensors.model.config.conv_dim).toHaveLength(7);
    expect(safetensors.model.preprocessor.do_normalize).toBe(false);
  });

  it('reads the same model from a 4.x pytorch_model.bin with legacy weight-norm names', () => {
    const bin = readHfFolder(fixture('hf-bin/fairseq_base_dict'));
    expect(bin.weightFiles).toEqual(['pytorch_model.bin']);
    expect(digest(bin)).toEqual(digest(safetensors));
    bin.close();
  });

  it('reads sharded safetensors folders', () => {
    const dir = join(work, 'sharded');
    writeShardedSafetensors(dir, safetensors.model.tensors, { maxShardBytes: 30_000 });
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify(safetensors.model.config));
    const sharded = readHfFolder(dir);
    expect(sharded.weightFiles.length).toBeGreaterThan(2);
    expect(digest(sharded)).toEqual(digest(safetensors));
    expect(sharded.warnings[0]).toMatch(/no preprocessor_config\.json/);
    sharded.close();
  });

  it('knows heads by their config and refuses other model types', () => {
    const ctc = readHfFolder(fixture('hf/fairseq_ctc'));
    expect(ctc.model.architecture).toBe('HubertForCTC');
    expect(ctc.model.tensors.has('hubert.encoder.pos_conv_embed.conv.weight_g')).toBe(true);
    ctc.close();
    const dir = join(work, 'wav2vec2');
    writeShardedSafetensors(dir, safetensors.model.tensors, { maxShardBytes: 1e9 });
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ model_type: 'wav2vec2' }));
    expect(() => readHfFolder(dir)).toThrow(UnsupportedModelError);
    expect(() => readHfFolder(join(work, 'missing'))).toThrow(FileSystemError);
  });
});
