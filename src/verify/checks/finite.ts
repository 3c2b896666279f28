/**
 * Check: every weight is finite. A NaN or Inf in a weight poisons every output it reaches; the conversion warns
 * about them, and verify fails on them. Values are read from the folder's bytes (no decoding).
 */
import type { HfModel } from '../../model.js';
import { describeNonFinite, scanNonFinite } from '../../non-finite.js';
import { type CheckResult, checkResult } from '../report.js';

export function checkFinite(model: HfModel): CheckResult {
  const found = scanNonFinite(model.tensors);
  if (found.length === 0) {
    return checkResult('finite', [{ subject: 'values', passed: true, message: `all ${model.tensors.size} tensors hold only finite values` }]);
  }
  return checkResult(
    'finite',
    found.map((n) => ({ subject: n.tensor, passed: false, message: describeNonFinite(n), details: { nan: n.nan, inf: n.inf, total: n.total } })),
    `${found.length} tensor(s) hold NaN or Inf: ${found.map((n) => n.tensor).join(', ')}`,
  );
}
