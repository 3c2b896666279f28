import { test } from 'vitest';
import { readCheckpoint, toPlainJson, pyGet } from '../../src/readers/index.js';
test('smoke', () => {
  const c = readCheckpoint('fixtures/checkpoints/fairseq_large_dictconfig.pt');
  console.log(c.tensors.length, c.globals, c.warnings);
  const j = toPlainJson(c.root) as any;
  delete j.model; delete j.last_optimizer_state;
  console.log(JSON.stringify(j).slice(0, 3000));
  const d = readCheckpoint('fixtures/checkpoints/fairseq_base_dict.pt');
  const k = toPlainJson(d.root) as any; delete k.model;
  console.log(JSON.stringify(k).slice(0, 2500));
  const n = readCheckpoint('fixtures/checkpoints/distilhubert.ckpt');
  const m = toPlainJson(n.root) as any; delete m.Distiller; delete m.Optimizer;
  console.log(JSON.stringify(m).slice(0, 1500));
});
