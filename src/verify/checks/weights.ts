/**
 * Check 1 (needs --source): the folder holds exactly the source checkpoint's weights. The checkpoint is mapped again
 * (the same toHuggingFace the converter used) and every folder tensor must equal its mapped tensor bit for bit, or
 * its exact cast when conversion_report.json records one; every checkpoint tensor must be mapped or dropped by a
 * rule; and the files, source and upstream must match the report's sizes and SHA-256 sums.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DTYPE_SIZE, type DType, bfloat16BitsToFloat32, float16BitsToFloat32, isFloatDType } from '../../dtype.js';
import { toHuggingFace } from '../../mappings/index.js';
import type { Conversion } from '../../mappings/types.js';
import { type Checkpoint, readCheckpoint } from '../../readers/index.js';
import { checkConvertedTensors } from '../../readers/lazy-tensor.js';
import { openInputFile } from '../../node-files.js';
import { type TensorData, castTensor } from '../../tensor.js';
import { unravel } from '../compare.js';
import type { VerifiedFolder } from '../folder.js';
import { type CheckItem, type CheckResult, checkResult } from '../report.js';
import { canonicalName } from './config.js';
import { projectionFile } from '../../family-fields.js';

export interface WeightsOptions {
  source: string;
  upstream?: string;
  /** fairseq dict.ltr.txt contents, when the CTC checkpoint holds no dictionary (as given to convert --dict) */
  dictText?: string;
  labels?: string[];
  /** `--allow-global` names for reading the source checkpoints (see ReadOptions). */
  allowGlobals?: readonly string[];
  /**
   * The folder is the one this process has just written and conversion_report.json holds the hashes taken of the
   * bytes as they were written (convert --verify): sizes are checked, the files are not hashed a second time
   * (x-large: 14 GB, 7 s of the run). A later `verify --source` hashes them.
   */
  checksumsTakenWhileWriting?: boolean;
}

const REPORT_DTYPES: Readonly<Record<string, DType>> = { fp32: 'F32', fp16: 'F16', bf16: 'BF16' };

export function sha256File(path: string): { sha256: string; bytes: number } {
  const hash = createHash('sha256');
  // a regular file only: a FIFO or device put in the folder must not hang or flood the check
  const source = openInputFile(path, { what: 'file' });
  const buffer = new Uint8Array(4 << 20);
  try {
    for (let at = 0; at < source.size; at += buffer.length) hash.update(source.read(at, Math.min(buffer.length, source.size - at), buffer));
  } finally {
    source.close();
  }
  return { sha256: hash.digest('hex'), bytes: source.size };
}

/** Streams two tensors' bytes side by side: the number of differing elements and the first one. */
export function diffTensorBytes(a: TensorData, b: TensorData): { count: number; first: number } {
  const size = DTYPE_SIZE[a.dtype];
  const ia = a.chunks()[Symbol.iterator]();
  const ib = b.chunks()[Symbol.iterator]();
  let ca: Uint8Array = new Uint8Array(0);
  let cb: Uint8Array = new Uint8Array(0);
  let pa = 0, pb = 0, offset = 0;
  let count = 0, first = -1;
  let lastCounted = -1;
  for (;;) {
    if (pa === ca.length) {
      const r = ia.next();
      if (r.done) break;
      ca = r.value;
      pa = 0;
      continue;
    }
    if (pb === cb.length) {
      const r = ib.next();
      if (r.done) break;
      cb = r.value;
      pb = 0;
      continue;
    }
    const n = Math.min(ca.length - pa, cb.length - pb);
    // equal runs (the usual case) are compared natively; only differing runs are walked byte by byte
    const same = Buffer.compare(ca.subarray(pa, pa + n), cb.subarray(pb, pb + n)) === 0;
    for (let i = 0; i < n && !same; i++) {
      if (ca[pa + i] !== cb[pb + i]) {
        const element = Math.floor((offset + i) / size);
        if (element !== lastCounted) {
          count++;
          lastCounted = element;
          if (first < 0) first = element;
        }
      }
    }
    pa += n;
    pb += n;
    offset += n;
  }
  return { count, first };
}

function elementValue(t: TensorData, index: number): string {
  const size = DTYPE_SIZE[t.dtype];
  let at = 0;
  for (const chunk of t.chunks()) {
    if (index * size < at + chunk.byteLength) {
      const dv = new DataView(chunk.buffer, chunk.byteOffset + index * size - at, size);
      switch (t.dtype) {
        case 'F32': return String(dv.getFloat32(0, true));
        case 'F64': return String(dv.getFloat64(0, true));
        case 'F16': return String(float16BitsToFloat32(dv.getUint16(0, true)));
        case 'BF16': return String(bfloat16BitsToFloat32(dv.getUint16(0, true)));
        case 'I64': return String(dv.getBigInt64(0, true));
        default: return `0x${Array.from(new Uint8Array(chunk.buffer, chunk.byteOffset + index * size - at, size)).map((x) => x.toString(16).padStart(2, '0')).join('')}`;
      }
    }
    at += chunk.byteLength;
  }
  return '?';
}

function tensorItems(folder: VerifiedFolder, conversion: Conversion, report: Record<string, unknown> | null): CheckItem[] {
  const items: CheckItem[] = [];
  const reportDtype = typeof report?.['dtype'] === 'string' ? REPORT_DTYPES[report['dtype'] as string] : undefined;
  const casts = new Map<string, DType>();
  const reportMapped = Array.isArray(report?.['mapped']) ? (report!['mapped'] as Array<{ target?: unknown; cast?: unknown }>) : [];
  for (const m of reportMapped) if (typeof m.target === 'string' && typeof m.cast === 'string') casts.set(canonicalName(m.target), m.cast as DType);

  const expected = new Map<string, { name: string; tensor: TensorData }>();
  for (const [name, tensor] of conversion.model.tensors) expected.set(canonicalName(name), { name, tensor });
  const stored = new Map<string, { name: string; tensor: TensorData }>();
  for (const [name, tensor] of folder.model.tensors) stored.set(canonicalName(name), { name, tensor });
  // the projection head beside the model (<name>.safetensors) is held to the source like any tensor
  for (const [model, into] of [[conversion.model, expected], [folder.model, stored]] as const) {
    const p = model.projection;
    if (p) for (const [part, tensor] of [['weight', p.weight], ['bias', p.bias]] as const) into.set(`${projectionFile(p.name)}:${p.name}.${part}`, { name: `${projectionFile(p.name)}:${p.name}.${part}`, tensor });
  }

  let identical = 0;
  let castCount = 0;
  for (const [key, { name, tensor }] of stored) {
    const want = expected.get(key);
    if (!want) {
      items.push({ subject: name, passed: false, message: `the folder has tensor ${name}, which the source checkpoint does not map to` });
      continue;
    }
    if (tensor.shape.join() !== want.tensor.shape.join()) {
      items.push({ subject: name, passed: false, message: `shape [${tensor.shape.join(', ')}] but the source tensor is [${want.tensor.shape.join(', ')}]` });
      continue;
    }
    let reference = want.tensor;
    if (tensor.dtype !== want.tensor.dtype) {
      const cast = casts.get(key) ?? (isFloatDType(want.tensor.dtype) ? reportDtype : undefined);
      if (cast !== tensor.dtype || !isFloatDType(want.tensor.dtype)) {
        items.push({ subject: name, passed: false, message: `dtype ${tensor.dtype} but the source tensor is ${want.tensor.dtype} and conversion_report.json records no cast to ${tensor.dtype}` });
        continue;
      }
      reference = castTensor(want.tensor, tensor.dtype);
      castCount++;
    }
    const diff = diffTensorBytes(tensor, reference);
    if (diff.count > 0) {
      const index = unravel(diff.first, tensor.shape);
      items.push({
        subject: name,
        passed: false,
        message: `${diff.count} element(s) differ from the source${reference !== want.tensor ? ` (after the recorded cast to ${tensor.dtype})` : ''}; first at index [${index.join(', ')}]: folder ${elementValue(tensor, diff.first)}, source ${elementValue(reference, diff.first)}`,
        details: { differing: diff.count, firstIndex: index },
      });
    } else {
      identical++;
    }
  }
  const missing = [...expected].filter(([key]) => !stored.has(key)).map(([, v]) => v.name);
  if (missing.length) items.push({ subject: 'missing tensors', passed: false, message: `${missing.length} mapped tensor(s) are not in the folder: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}` });
  items.unshift({
    subject: 'tensors',
    passed: identical === stored.size && missing.length === 0,
    message: `${identical} of ${stored.size} folder tensors equal the source${castCount ? ` (${castCount} through the recorded cast)` : ''} bit for bit`,
  });
  return items;
}

/** `model/encoder.layers.0.fc1.weight` → `model` (state-dict keys have no slash; the container path does). */
function parentPath(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

function accountingItems(checkpoint: Checkpoint, upstream: Checkpoint | null, conversion: Conversion, report: Record<string, unknown> | null): CheckItem[] {
  const items: CheckItem[] = [];
  const accounted = new Set<string>();
  for (const m of conversion.mapped) if (m.source) accounted.add(m.source);
  for (const d of conversion.dropped) accounted.add(d.source);
  // the state dicts the mapping read; tensors elsewhere (optimizer state, trainer extras) are not model weights
  const dicts = new Set([...accounted].map(parentPath));
  const all = [...checkpoint.tensors.map((t) => t.path), ...(upstream ? upstream.tensors.map((t) => `upstream:${t.path}`) : [])];
  const inDicts = all.filter((p) => dicts.has(parentPath(p)));
  const outside = all.length - inDicts.length;
  const unaccounted = inDicts.filter((p) => !accounted.has(p));
  items.push({
    subject: 'source tensors accounted for',
    passed: unaccounted.length === 0,
    message:
      (unaccounted.length === 0
        ? `all ${inDicts.length} tensors of the source state dict(s) [${[...dicts].join(', ')}] are mapped (${conversion.mapped.length}) or dropped by a rule (${conversion.dropped.length})`
        : `${unaccounted.length} source state-dict tensor(s) are neither mapped nor dropped: ${unaccounted.slice(0, 8).join(', ')}${unaccounted.length > 8 ? ', …' : ''}`) +
      (outside ? `; ${outside} tensor(s) outside them (optimizer or trainer state) are not model weights` : ''),
  });
  if (report) {
    const pairs = (list: unknown) => new Set((Array.isArray(list) ? list : []).map((m: { source?: unknown; target?: unknown; reason?: unknown }) => `${String(m.source)}→${String(m.target ?? m.reason)}`));
    const inReport = pairs(report['mapped']);
    const fresh = pairs(conversion.mapped);
    const droppedReport = pairs(report['dropped']);
    const droppedFresh = pairs(conversion.dropped);
    const same = (a: Set<string>, b: Set<string>) => a.size === b.size && [...a].every((x) => b.has(x));
    const diff = [...fresh].filter((x) => !inReport.has(x)).concat([...inReport].filter((x) => !fresh.has(x)));
    items.push({
      subject: 'report mapping',
      passed: same(inReport, fresh) && same(droppedReport, droppedFresh),
      message: same(inReport, fresh) && same(droppedReport, droppedFresh)
        ? 'conversion_report.json mapped/dropped lists agree with a fresh mapping of the source'
        : `conversion_report.json mapped/dropped lists differ from a fresh mapping of the source${diff.length ? `: ${diff.slice(0, 4).join(', ')}` : ' (dropped list)'}`,
    });
  }
  return items;
}

function fileItems(folder: VerifiedFolder, report: Record<string, unknown>, options: WeightsOptions): CheckItem[] {
  const items: CheckItem[] = [];
  const files = Array.isArray(report['files']) ? (report['files'] as Array<{ path?: unknown; bytes?: unknown; sha256?: unknown }>) : [];
  let ok = 0;
  for (const f of files) {
    const path = typeof f.path === 'string' ? f.path : '';
    const full = join(folder.dir, path);
    if (!path || path.includes('..') || !existsSync(full)) {
      items.push({ subject: `file ${path}`, passed: false, message: `conversion_report.json lists ${JSON.stringify(f.path)}, which is not in the folder` });
      continue;
    }
    const actual = options.checksumsTakenWhileWriting ? { bytes: statSync(full).size, sha256: f.sha256 } : sha256File(full);
    if (actual.sha256 !== f.sha256 || actual.bytes !== f.bytes) {
      items.push({ subject: `file ${path}`, passed: false, message: `${path} has ${actual.bytes} bytes, sha256 ${actual.sha256}; conversion_report.json records ${String(f.bytes)} bytes, sha256 ${String(f.sha256)} (modified after conversion)` });
    } else {
      ok++;
    }
  }
  const matched = options.checksumsTakenWhileWriting ? 'match their recorded size (SHA-256 taken while this run wrote them)' : 'match their recorded size and SHA-256';
  items.unshift({ subject: 'file checksums', passed: ok === files.length && files.length > 0, message: files.length ? `${ok} of ${files.length} files ${matched}` : 'conversion_report.json lists no files' });
  const check = (what: 'source' | 'upstream', path: string | undefined) => {
    const recorded = report[what] as { sha256?: unknown; bytes?: unknown } | undefined;
    if (!path || !recorded || typeof recorded.sha256 !== 'string' || recorded.sha256 === '') return;
    // this run hashed the source as it read it, and the tensor comparison above read it again
    if (options.checksumsTakenWhileWriting) return;
    const actual = sha256File(path);
    const same = actual.sha256 === recorded.sha256;
    items.push({
      subject: `${what} checksum`,
      passed: same,
      message: same ? `${path} is the file the folder was converted from (sha256 matches)` : `${path} has sha256 ${actual.sha256} but the folder was converted from a file with sha256 ${recorded.sha256}`,
    });
  };
  check('source', options.source);
  check('upstream', options.upstream);
  return items;
}

/** Files in the folder the report does not list (informational: someone added or left files). */
export function unlistedFiles(folder: VerifiedFolder, report: Record<string, unknown>): string[] {
  const listed = new Set((Array.isArray(report['files']) ? (report['files'] as Array<{ path?: unknown }>) : []).map((f) => String(f.path)));
  listed.add('conversion_report.json');
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else {
        const rel = relative(folder.dir, full).split('\\').join('/');
        if (!listed.has(rel)) out.push(rel);
      }
    }
  };
  walk(folder.dir);
  return out;
}

export function checkWeights(folder: VerifiedFolder, options: WeightsOptions): CheckResult {
  const readOptions = options.allowGlobals ? { allowGlobals: options.allowGlobals } : {};
  const checkpoint = readCheckpoint(options.source, readOptions);
  const upstream = options.upstream ? readCheckpoint(options.upstream, readOptions) : null;
  try {
    const conversion = toHuggingFace(checkpoint, {
      // a bshall state dict records no head count: the folder's config says what the conversion was given
      attentionHeads: folder.model.config.num_attention_heads,
      ...(upstream ? { upstream } : {}),
      ...(options.dictText !== undefined ? { dictText: options.dictText } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
    });
    checkConvertedTensors(conversion);
    const report = folder.conversionReport;
    const items = [...tensorItems(folder, conversion, report), ...accountingItems(checkpoint, upstream, conversion, report)];
    if (report) items.push(...fileItems(folder, report, options));
    else items.push({ subject: 'conversion_report.json', passed: false, message: `${folder.dir} has no conversion_report.json, so file checksums cannot be checked` });
    const failed = items.filter((i) => !i.passed).length;
    return checkResult('weights', items, failed === 0 ? `${folder.model.tensors.size} tensors identical to ${options.source}; files match conversion_report.json` : `${failed} problem(s)`);
  } finally {
    checkpoint.close();
    upstream?.close();
  }
}
