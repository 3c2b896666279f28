import { isFloatDType } from '../../dtype.js';
import type { HubertConfig, ProjectionHead } from '../../model.js';

/**
 * The projection head a HuBERT-family source carries beside the model (model.ts ProjectionHead): a Linear from the
 * hidden size, weight [out, hidden_size] and bias [out], both of the same float dtype. Problems, in words; [] when sound.
 */
export function projectionProblems(config: Pick<HubertConfig, 'hidden_size'>, p: ProjectionHead): { shape: string[]; dtype: string[] } {
  const shape: string[] = [];
  const dtype: string[] = [];
  const w = p.weight.shape;
  if (w.length !== 2 || w[1] !== config.hidden_size || !(w[0]! > 0)) shape.push(`${p.name}.weight is [${w.join(', ')}], needs [out, ${config.hidden_size}] (a Linear from the hidden size)`);
  else if (p.bias.shape.length !== 1 || p.bias.shape[0] !== w[0]) shape.push(`${p.name}.bias is [${p.bias.shape.join(', ')}], needs [${w[0]}]`);
  for (const [part, t] of [['weight', p.weight], ['bias', p.bias]] as const) if (!isFloatDType(t.dtype)) dtype.push(`${p.name}.${part} is ${t.dtype}, needs a float dtype`);
  if (dtype.length === 0 && p.weight.dtype !== p.bias.dtype) dtype.push(`${p.name}.weight is ${p.weight.dtype} but ${p.name}.bias ${p.bias.dtype}`);
  return { shape, dtype };
}
