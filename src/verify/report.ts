/**
 * The verification report: a versioned JSON document (schema written down in SCHEMA.md) and its human table.
 * Bump VERIFY_REPORT_VERSION on any change that removes or renames a field; adding optional fields keeps it.
 */
import { type Comparison, type Tolerance, fmt, formatWhere } from './compare.js';
import type { OnnxVariant } from '../model.js';

export const VERIFY_REPORT_SCHEMA = 'hubert-convert/verify-report';
export const VERIFY_REPORT_VERSION = 1;

export type CheckName = 'weights' | 'config' | 'finite' | 'parity' | 'expected';
export type Variant = OnnxVariant;

export interface CheckItem {
  /** what was checked: a tensor name, a config rule, "<variant> <input> <output>"… */
  subject: string;
  passed: boolean;
  /** one line: what was found (and, on failure, what is wrong and where) */
  message: string;
  /** numeric comparisons (parity / expected) */
  comparison?: Comparison;
  details?: Record<string, unknown>;
}

export interface CheckResult {
  name: CheckName;
  /** false iff some item failed; a skipped check counts as passed */
  passed: boolean;
  /** set when the check did not run, with the reason */
  skipped?: string;
  /** one line for the table */
  summary: string;
  items: CheckItem[];
}

export interface VerifyInputInfo {
  /** "single", "batch", "audio:<file>", "expected:<input>" */
  name: string;
  batch: number;
  length: number;
  /** real samples per row (the rest is zero padding) */
  lengths: number[];
  /** some rows are zero-padded: graphs that declare attention_mask get the mask (and so does the reference) */
  padded: boolean;
}

export interface VerifyReport {
  schema: typeof VERIFY_REPORT_SCHEMA;
  version: typeof VERIFY_REPORT_VERSION;
  tool: { name: 'hubert-convert'; version: string };
  folder: string;
  model: { architecture: string; hidden_size: unknown; num_hidden_layers: unknown; do_stable_layer_norm: unknown; feat_extract_norm: unknown };
  passed: boolean;
  checks: CheckResult[];
  inputs: VerifyInputInfo[];
  tolerances: Record<Variant, Tolerance>;
  warnings: string[];
  durationMs: number;
}

export function checkResult(name: CheckName, items: CheckItem[], summary?: string): CheckResult {
  const failed = items.filter((i) => !i.passed).length;
  return {
    name,
    passed: failed === 0,
    summary: summary ?? (failed === 0 ? `${items.length} item(s) passed` : `${failed} of ${items.length} item(s) failed`),
    items,
  };
}

export function skippedCheck(name: CheckName, reason: string): CheckResult {
  return { name, passed: true, skipped: reason, summary: `skipped: ${reason}`, items: [] };
}

/** Failed comparisons spelled out under a check's table; the rest are only in the table and the JSON. */
const MAX_NUMERIC_DETAILS = 6;

function pad(text: string, width: number): string {
  return text.length >= width ? text : text + ' '.repeat(width - text.length);
}

function comparisonRow(item: CheckItem): string[] {
  const c = item.comparison!;
  const t = c.tolerance;
  const bound = [t.atol !== undefined ? `atol ${t.atol}${t.rtol ? ` rtol ${t.rtol}` : ''}` : '', t.minCosine !== undefined ? `cos≥${t.minCosine}` : '', t.maxRelativeL2 !== undefined ? `relL2≤${t.maxRelativeL2}` : '']
    .filter(Boolean)
    .join(' ');
  return [item.passed ? 'ok' : 'FAIL', item.subject, fmt(c.maxAbs), fmt(c.maxRel), c.cosine.toFixed(6), fmt(c.relativeL2), bound, formatWhere(c.worst)];
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => '  ' + r.map((cell, i) => pad(cell, widths[i]!)).join('  ').trimEnd());
}

/** The report as a readable table: one block per check, numeric comparisons as rows, failures spelled out. */
export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`hubert-convert verify ${report.folder} (${report.model.architecture})`);
  if (report.inputs.length) {
    lines.push(`inputs: ${report.inputs.map((i) => `${i.name} [${i.batch}×${i.length}]${i.padded ? ' padded' : ''}`).join(', ')}`);
  }
  for (const check of report.checks) {
    lines.push('');
    lines.push(`${check.skipped ? 'SKIP' : check.passed ? 'PASS' : 'FAIL'}  ${check.name}: ${check.summary}`);
    const numeric = check.items.filter((i) => i.comparison);
    if (numeric.length) {
      lines.push(...table([['', 'output', 'max abs', 'max rel', 'cosine', 'rel L2', 'tolerance', 'worst at'], ...numeric.map(comparisonRow)]));
    }
    let numericFailures = 0;
    for (const item of check.items) {
      if (item.passed && item.comparison) continue;
      if (item.passed && check.items.length > 12) continue; // long lists: show failures only
      if (item.comparison && ++numericFailures > MAX_NUMERIC_DETAILS) continue; // the table already has the figures
      lines.push(`  ${item.passed ? 'ok  ' : 'FAIL'}  ${item.subject}: ${item.message}`);
    }
    if (numericFailures > MAX_NUMERIC_DETAILS) lines.push(`  … ${numericFailures - MAX_NUMERIC_DETAILS} more failed comparison(s): see the table above, or --json`);
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  lines.push('');
  lines.push(`${report.passed ? 'PASSED' : 'FAILED'} (${(report.durationMs / 1000).toFixed(1)} s)`);
  return lines.join('\n');
}
