import { it } from 'vitest';
import { convert } from '../../src/convert.js';
import { verify, formatVerifyReport } from '../../src/verify/index.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './helpers.js';

it('smoke', async () => {
  const out = '/tmp/vdev/large';
  if (!process.env.NOCONVERT) rmSync(out, { recursive: true, force: true });
  const src = join(FIXTURES, 'checkpoints', 'fairseq_large_dictconfig.pt');
  let t = performance.now();
  if (!process.env.NOCONVERT) await convert(src, { out, force: true });
  console.log('convert ms', performance.now() - t);
  t = performance.now();
  const report = await verify(out, { source: src });
  console.log('verify ms', performance.now() - t);
  console.log(formatVerifyReport(report));
});
