import type { ConvertResult } from '../convert.js';
import type { InspectReport } from '../inspect.js';

function size(bytes: number): string {
  if (bytes < 1e3) return `${bytes} B`;
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e9).toFixed(2)} GB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`).join('');
}

/** The one-screen summary after a conversion. */
export function renderConvertSummary({ out, report, verification }: ConvertResult): string {
  const lines: string[] = [];
  lines.push(`Converted ${report.source.file} (${report.source.kind}) → ${out}`);
  lines.push(`  ${report.architecture}: ${report.mapped.length} tensors mapped, ${report.dropped.length} dropped by rule, weights ${report.dtype === 'keep' ? 'in their source dtype' : `cast to ${report.dtype}`}`);
  for (const d of report.dropped) lines.push(`    dropped ${d.source}: ${d.reason}`);
  lines.push('', 'Files:');
  let out2 = lines.join('\n') + '\n';
  out2 += table(report.files.map((f) => [f.path, size(f.bytes), f.sha256.slice(0, 16)]));
  const onnx = (report.onnx ?? []) as Array<{ variant: string; file: string; accuracy?: { maxAbs: number; cosine: number } | null }>;
  if (onnx.length > 0) {
    out2 += '\nONNX accuracy against fp32 (deterministic input):\n';
    out2 += table(onnx.map((o) => [o.variant, o.file, o.accuracy ? `max abs ${o.accuracy.maxAbs.toExponential(2)}` : '', o.accuracy ? `cosine ${o.accuracy.cosine.toFixed(6)}` : '']));
  }
  if (verification) out2 += `\nVerification: ${verification.passed ? 'passed' : 'FAILED'}\n`;
  if (report.warnings.length > 0) out2 += `\nWarnings:\n${report.warnings.map((w) => `  - ${w}\n`).join('')}`;
  return out2;
}

export function renderInspect(r: InspectReport): string {
  let text = `${r.file}: ${size(r.bytes)}, ${r.format}\n`;
  text += `Detected: ${r.kind ?? 'not a recognised HuBERT checkpoint'}${r.evidence ? ` (${r.evidence})` : ''}\n`;
  if (r.hfConfig) {
    const c = r.hfConfig;
    text += `Model: ${c.architectures[0]}, ${c.num_hidden_layers} layers, hidden ${c.hidden_size}, ${c.num_attention_heads} heads, ffn ${c.intermediate_size}, `;
    text += `${c.feat_extract_norm}-norm extractor, ${c.do_stable_layer_norm ? 'pre-LN' : 'post-LN'}, conv ${c.conv_dim.length} layers (bias ${c.conv_bias}), pos-conv ${c.num_conv_pos_embeddings}/${c.num_conv_pos_embedding_groups}${c.conv_pos_batch_norm ? ' batch-norm' : ''}\n`;
  }
  if (r.offers?.what === 'model') {
    const o = r.offers;
    text += `Offers: --output-layer 1..${o.layers}${o.projection ? `, --final-proj (${o.projection.name}, ${o.projection.out} channels)` : ', no projection head'}${o.inputPadding ? `, ${o.inputPadding}-sample padding inside` : ''}; profiles: ${o.profiles.length ? o.profiles.join(', ') : 'none (needs 12 layers, or a head)'}\n`;
  } else if (r.offers?.what === 'kmeans-quantizer') {
    text += `Quantizer: ${r.offers.clusters} clusters × ${r.offers.dim} features (${r.offers.estimator ?? r.offers.format}); use it with --output-layer N --kmeans ${r.file}\n`;
  }
  if (r.sourceConfig) text += `Source config: ${JSON.stringify(r.sourceConfig).slice(0, 400)}${JSON.stringify(r.sourceConfig).length > 400 ? '…' : ''}\n`;
  text += `\nTensors (${r.tensors.length}, ${size(r.totalTensorBytes)}):\n`;
  text += table([['name', 'dtype', 'shape', 'bytes'], ...r.tensors.map((t) => [t.path, t.dtype, `[${t.shape.join(', ')}]`, size(t.bytes)])]);
  text += `\nPickle globals:\n`;
  text += table(r.globals.map((g) => [g.name, `×${g.count}`, g.handling === 'shim' ? 'understood' : g.handling === 'inert' ? 'allow-listed as an inert record (never run)' : 'inert record by --allow-global (never run)']));
  if (!r.valuesScanned) text += '\nValues not scanned for NaN/Inf (large file); pass --scan to check.\n';
  text += r.warnings.length > 0 ? `\nWarnings:\n${r.warnings.map((w) => `  - ${w}\n`).join('')}` : '\nNo warnings.\n';
  return text;
}
