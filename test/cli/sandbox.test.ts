import { afterAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { fixture } from '../helpers/fixtures.js';
import { Sandbox, errorCode } from '../helpers/sandbox.js';

const box = new Sandbox();
afterAll(() => box.dispose());

describe('the hostile-run sandbox', () => {
  it('reports exit code, error code, time, peak memory and leftovers of a CLI run', () => {
    const r = box.run(['inspect', fixture('hostile/zip_os_system.pt')]);
    expect(r.status).toBe(EXIT_CODES.unsafe);
    expect(errorCode(r.stderr)).toBe('E_PICKLE_UNSAFE_GLOBAL');
    expect(r.peakMiB).toBeGreaterThan(10);
    expect(r.peakMiB).toBeLessThan(300);
    expect(r.ms).toBeLessThan(5000);
    expect(r.leftovers).toEqual([]);
  });

  it('sees what a run leaves in its working directory', () => {
    const r = box.run(['convert', fixture('checkpoints/fairseq_base_dict.pt'), '--out', 'out', '--quiet']);
    expect(r.status).toBe(0);
    expect(r.leftovers).toEqual(['cwd/out']);
    expect(box.run(['inspect', fixture('checkpoints/fairseq_base_dict.pt')], { keep: ['out'] }).leftovers).toEqual([]);
  });
});
