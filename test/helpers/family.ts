/**
 * The HuBERT-family models of fixtures/FAMILY.md as HfModels with their projection head and input padding, built from
 * the committed fixtures (real data): the HF folders with the head file beside them, and bshall's hubert-discrete
 * state dict renamed by the mapping of FAMILY.md §1.4 (until the family sources map it themselves).
 */
import { readFileSync } from 'node:fs';
import type { HfModel, ProjectionHead } from '../../src/model.js';
import { readCheckpoint } from '../../src/readers/index.js';
import { readKMeans, type KMeansQuantizer } from '../../src/readers/kmeans.js';
import { LazyTensor } from '../../src/readers/lazy-tensor.js';
import { readSafetensors } from '../../src/readers/disk-safetensors.js';
import { BufferSource } from '../../src/byte-source.js';
import { MemoryTensor, type TensorData } from '../../src/tensor.js';
import { fixture } from './fixtures.js';
import { hfDir, loadHfModel } from './golden.js';

function memory(t: TensorData): MemoryTensor {
  return new MemoryTensor(t.dtype, t.shape, t.bytes().slice());
}

export function headFrom(file: string, name: 'final_proj' | 'proj'): ProjectionHead {
  const f = readSafetensors(file);
  try {
    return { name, weight: memory(f.tensors.get(`${name}.weight`)!), bias: memory(f.tensors.get(`${name}.bias`)!) };
  } finally {
    f.close();
  }
}

/** ContentVec legacy (RVC's hubert_base.pt) with its final_proj. */
export function contentvecModel(): HfModel {
  return { ...loadHfModel(hfDir('contentvec_legacy')), projection: headFrom(`${hfDir('contentvec_legacy')}/final_proj.safetensors`, 'final_proj') };
}

/** bshall hubert-soft with its proj and units()' 40-sample padding. */
export function hubertSoftModel(): HfModel {
  return { ...loadHfModel(hfDir('hubert_soft')), projection: headFrom(`${hfDir('hubert_soft')}/proj.safetensors`, 'proj'), inputPadding: 40 };
}

const BSHALL_RENAMES: Array<[RegExp, string]> = [
  [/^feature_extractor\.conv(\d)\.weight$/, 'feature_extractor.conv_layers.$1.conv.weight'],
  [/^feature_extractor\.norm0\.(weight|bias)$/, 'feature_extractor.conv_layers.0.layer_norm.$1'],
  [/^feature_projection\.norm\./, 'feature_projection.layer_norm.'],
  [/^feature_projection\.projection\./, 'feature_projection.projection.'],
  [/^positional_embedding\.conv\.weight_g$/, 'encoder.pos_conv_embed.conv.parametrizations.weight.original0'],
  [/^positional_embedding\.conv\.weight_v$/, 'encoder.pos_conv_embed.conv.parametrizations.weight.original1'],
  [/^positional_embedding\.conv\.bias$/, 'encoder.pos_conv_embed.conv.bias'],
  [/^norm\./, 'encoder.layer_norm.'],
  [/^encoder\.layers\.(\d+)\.self_attn\.out_proj\./, 'encoder.layers.$1.attention.out_proj.'],
  [/^encoder\.layers\.(\d+)\.linear1\./, 'encoder.layers.$1.feed_forward.intermediate_dense.'],
  [/^encoder\.layers\.(\d+)\.linear2\./, 'encoder.layers.$1.feed_forward.output_dense.'],
  [/^encoder\.layers\.(\d+)\.norm1\./, 'encoder.layers.$1.layer_norm.'],
  [/^encoder\.layers\.(\d+)\.norm2\./, 'encoder.layers.$1.final_layer_norm.'],
  [/^masked_spec_embed$/, 'masked_spec_embed'],
];

/** Rows [from, to) of a 2-D (or 1-D) float32 tensor. */
function rows(t: TensorData, from: number, to: number): MemoryTensor {
  const width = t.shape.length === 2 ? t.shape[1]! : 1;
  const bytes = t.bytes().slice(from * width * 4, to * width * 4);
  return new MemoryTensor('F32', t.shape.length === 2 ? [to - from, width] : [to - from], bytes);
}

/** bshall hubert-discrete (fixtures/checkpoints/hubert_discrete.pt) as a HubertModel, with units()' padding. */
export function hubertDiscreteModel(): HfModel {
  const base = loadHfModel(hfDir('hubert_soft')); // same geometry and config (FAMILY.md §1.5)
  const checkpoint = readCheckpoint(fixture('checkpoints/hubert_discrete.pt'));
  const state = (checkpoint.root as Map<string, unknown>).get('hubert') as Map<string, unknown>;
  const tensors = new Map<string, TensorData>();
  const H = base.config.hidden_size;
  for (const [key, value] of state) {
    if (!(value instanceof LazyTensor)) continue;
    const name = key.replace(/^module\./, '');
    const inProj = /^encoder\.layers\.(\d+)\.self_attn\.in_proj_(weight|bias)$/.exec(name);
    if (inProj) {
      ['q_proj', 'k_proj', 'v_proj'].forEach((p, i) => tensors.set(`encoder.layers.${inProj[1]}.attention.${p}.${inProj[2]}`, rows(value, i * H, (i + 1) * H)));
      continue;
    }
    if (name === 'label_embedding.weight' || name.startsWith('proj.')) continue;
    const rule = BSHALL_RENAMES.find(([re]) => re.test(name));
    if (!rule) throw new Error(`no rename for ${name}`);
    tensors.set(name.replace(rule[0], rule[1]), memory(value));
  }
  checkpoint.close();
  return { ...base, tensors, inputPadding: 40 };
}

export function kmeansFixture(name: 'contentvec_legacy_L3_km10.bin' | 'hubert_discrete_kmeans.pt'): KMeansQuantizer {
  const path = fixture(`checkpoints/${name}`);
  return readKMeans(new BufferSource(readFileSync(path), path));
}
