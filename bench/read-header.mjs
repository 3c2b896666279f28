// Times readCheckpoint's header + tensor-table pass on a ~1 GB synthetic torch.save zip (no tensor data is read).
// Usage: npm run build && node bench/read-header.mjs [--size-mb 1024] [--tensors 300]
// Writes the checkpoint to a temp dir (removed afterwards), reads it 5 times in-process (median wall time, RSS), then
// once in a child under /usr/bin/time -v for the peak RSS of a fresh process.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../dist/readers/index.js';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};

// ---------------------------------------------------------------- a minimal torch-like writer (stored zip, 64-aligned)

const enc = new TextEncoder();
class Bytes {
  parts = [];
  u8(...v) { this.parts.push(...v); return this; }
  u16(v) { return this.u8(v & 0xff, (v >> 8) & 0xff); }
  u32(v) { return this.u8(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff); }
  u64(v) { return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32)); }
  text(s) { for (const b of enc.encode(s)) this.parts.push(b); return this; }
  done() { return Uint8Array.from(this.parts); }
}

/** data.pkl as torch writes a state_dict: protocol 2, memoized globals, BINPERSID storages, _rebuild_tensor_v2. */
function dataPickle(tensors) {
  const p = new Bytes().u8(0x80, 2);
  let memo = 0;
  const put = () => p.u8(0x72).u32(memo++); // LONG_BINPUT
  const str = (s) => { const b = enc.encode(s); p.u8(0x58).u32(b.length); for (const x of b) p.u8(x); };
  const int = (v) => p.u8(0x4a).u32(v); // BININT
  p.u8(0x7d); put(); str('model'); put();
  p.u8(0x63).text('collections\nOrderedDict\n'); const od = memo; put(); p.u8(0x29, 0x52); put();
  p.u8(0x28); // MARK for SETITEMS
  let rebuild = -1;
  let storageClass = -1;
  tensors.forEach((t, i) => {
    str(t.name); put();
    if (rebuild < 0) { p.u8(0x63).text('torch._utils\n_rebuild_tensor_v2\n'); rebuild = memo; put(); } else p.u8(0x6a).u32(rebuild);
    p.u8(0x28, 0x28); str('storage');
    if (storageClass < 0) { p.u8(0x63).text('torch\nFloatStorage\n'); storageClass = memo; put(); } else p.u8(0x6a).u32(storageClass);
    str(String(i)); str('cpu'); int(t.numel); p.u8(0x74, 0x51); // TUPLE, BINPERSID
    int(0);
    p.u8(0x28); for (const d of t.shape) int(d); p.u8(0x74);
    p.u8(0x28); for (const s of t.stride) int(s); p.u8(0x74);
    p.u8(0x89); p.u8(0x6a).u32(od); p.u8(0x29, 0x52); // False, OrderedDict()
    p.u8(0x74, 0x52); // TUPLE, REDUCE
  });
  p.u8(0x75, 0x73, 0x2e); // SETITEMS, SETITEM, STOP
  return p.done();
}

function writeCheckpoint(file, totalBytes, count) {
  const perTensor = Math.floor(totalBytes / count / 4 / 1024) * 1024; // elements, a multiple of 1024
  const tensors = Array.from({ length: count }, (_, i) => ({ name: `encoder.layers.${i}.weight`, numel: perTensor, shape: [perTensor / 1024, 1024], stride: [1024, 1] }));
  const fd = openSync(file, 'w');
  let offset = 0;
  const central = [];
  const write = (bytes) => { writeSync(fd, bytes, 0, bytes.length, offset); offset += bytes.length; };
  const fill = new Uint8Array(4 << 20);
  for (let i = 0; i < fill.length; i++) fill[i] = (i * 2654435761) >>> 24;
  const record = (name, size, writeData) => {
    const nameBytes = enc.encode(`archive/${name}`);
    const headerOffset = offset;
    const pad = (64 - ((offset + 30 + nameBytes.length + 4) % 64)) % 64;
    const header = new Bytes().u32(0x04034b50).u16(20).u16(0).u16(0).u32(0).u32(0).u32(size).u32(size)
      .u16(nameBytes.length).u16(4 + pad).done();
    write(header); write(nameBytes);
    write(Uint8Array.from([0x46, 0x42, pad & 0xff, pad >> 8, ...new Array(pad).fill(0x5a)]));
    writeData();
    central.push({ nameBytes, size, headerOffset });
  };
  const pkl = dataPickle(tensors);
  record('data.pkl', pkl.length, () => write(pkl));
  record('byteorder', 6, () => write(enc.encode('little')));
  tensors.forEach((t, i) => record(`data/${i}`, t.numel * 4, () => {
    for (let left = t.numel * 4; left > 0; left -= fill.length) write(fill.subarray(0, Math.min(left, fill.length)));
  }));
  record('version', 2, () => write(enc.encode('3\n')));
  const cdStart = offset;
  for (const e of central) {
    write(new Bytes().u32(0x02014b50).u16(20).u16(20).u16(0).u16(0).u32(0).u32(0).u32(e.size).u32(e.size)
      .u16(e.nameBytes.length).u16(0).u16(0).u16(0).u16(0).u32(0).u32(e.headerOffset).done());
    write(e.nameBytes);
  }
  write(new Bytes().u32(0x06054b50).u16(0).u16(0).u16(central.length).u16(central.length).u32(offset - cdStart).u32(cdStart).u16(0).done());
  closeSync(fd);
  return offset;
}

// ---------------------------------------------------------------------------------------------------------- timing

const mb = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;

if (args[0] === '--child') {
  const started = performance.now();
  const ckpt = readCheckpoint(args[1]);
  console.log(`child: ${ckpt.tensors.length} tensors in ${(performance.now() - started).toFixed(1)} ms`);
  ckpt.close();
} else {
  const dir = mkdtempSync(join(tmpdir(), 'hc-bench-'));
  const file = join(dir, 'synthetic.pt');
  try {
    const count = Number(option('--tensors', '300'));
    const size = writeCheckpoint(file, Number(option('--size-mb', '1024')) * 2 ** 20, count);
    console.log(`wrote ${file}: ${mb(size)}, ${count} tensors`);
    const times = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      const ckpt = readCheckpoint(file);
      times.push(performance.now() - started);
      if (ckpt.tensors.length !== count) throw new Error(`expected ${count} tensors, got ${ckpt.tensors.length}`);
      ckpt.close();
    }
    times.sort((a, b) => a - b);
    console.log(`readCheckpoint (header + tensor table): median ${times[2].toFixed(1)} ms, min ${times[0].toFixed(1)} ms, max ${times[4].toFixed(1)} ms`);
    console.log(`rss after 5 reads: ${mb(process.memoryUsage().rss)}`);
    if (existsSync('/usr/bin/time')) {
      const child = spawnSync('/usr/bin/time', ['-v', process.execPath, fileURLToPath(import.meta.url), '--child', file], { encoding: 'utf8' });
      process.stdout.write(child.stdout);
      const report = child.stderr.split('\n').filter((l) => /Maximum resident set size|Elapsed \(wall clock\)/.test(l));
      console.log(report.map((l) => `child ${l.trim()}`).join('\n'));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
