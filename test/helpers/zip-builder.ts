/**
 * A tiny writer of stored (uncompressed) zip archives for tests, optionally with ZIP64 records and with torch's
 * 64-byte data alignment (an "FB" padding extra field in the local header).
 */
export interface ZipInput {
  name: string;
  data: Uint8Array;
  /** Claimed compression method (the data is written as given). */
  method?: number;
}

export interface ZipOptions {
  /** ZIP64 end records; true puts every size and offset in the zip64 extra field, 'offset' only the offset (miniz style). */
  zip64?: boolean | 'offset';
  align?: number;
}

function le(n: number | bigint, bytes: number): number[] {
  const out: number[] = [];
  let v = BigInt(n);
  for (let i = 0; i < bytes; i++) {
    out.push(Number(v & 0xffn));
    v >>= 8n;
  }
  return out;
}

export function buildZip(entries: ZipInput[], options: ZipOptions = {}): Uint8Array {
  const parts: number[] = [];
  const central: number[] = [];
  const enc = new TextEncoder();
  const push = (arr: number[], bytes: ArrayLike<number>): void => {
    for (let i = 0; i < bytes.length; i++) arr.push(bytes[i]!);
  };
  for (const entry of entries) {
    const name = enc.encode(entry.name);
    const offset = parts.length;
    let extra: number[] = [];
    if (options.align) {
      const base = offset + 30 + name.length + 4;
      const pad = (options.align - (base % options.align)) % options.align;
      extra = [0x46, 0x42, ...le(pad, 2), ...new Array<number>(pad).fill(0x5a)];
    }
    const size = entry.data.length;
    push(parts, [...le(0x04034b50, 4), ...le(20, 2), ...le(0, 2), ...le(entry.method ?? 0, 2), ...le(0, 4), ...le(0, 4)]);
    push(parts, [...le(size, 4), ...le(size, 4), ...le(name.length, 2), ...le(extra.length, 2)]);
    push(parts, name);
    push(parts, extra);
    push(parts, entry.data);
    const zip64Extra =
      options.zip64 === 'offset' ? [...le(1, 2), ...le(8, 2), ...le(offset, 8)]
      : options.zip64 ? [...le(1, 2), ...le(24, 2), ...le(size, 8), ...le(size, 8), ...le(offset, 8)]
      : [];
    const sizeField = options.zip64 === true ? 0xffffffff : size;
    const offsetField = options.zip64 ? 0xffffffff : offset;
    push(central, [...le(0x02014b50, 4), ...le(45, 2), ...le(45, 2), ...le(0, 2), ...le(entry.method ?? 0, 2), ...le(0, 4), ...le(0, 4)]);
    push(central, [...le(sizeField, 4), ...le(sizeField, 4), ...le(name.length, 2), ...le(zip64Extra.length, 2), ...le(0, 2)]);
    push(central, [...le(0, 2), ...le(0, 2), ...le(0, 4), ...le(offsetField, 4)]);
    push(central, name);
    push(central, zip64Extra);
  }
  const cdOffset = parts.length;
  push(parts, central);
  const count = entries.length;
  if (options.zip64) {
    const zip64At = parts.length;
    push(parts, [...le(0x06064b50, 4), ...le(44, 8), ...le(45, 2), ...le(45, 2), ...le(0, 4), ...le(0, 4)]);
    push(parts, [...le(count, 8), ...le(count, 8), ...le(central.length, 8), ...le(cdOffset, 8)]);
    push(parts, [...le(0x07064b50, 4), ...le(0, 4), ...le(zip64At, 8), ...le(1, 4)]);
    push(parts, [...le(0x06054b50, 4), ...le(0, 2), ...le(0, 2), ...le(0xffff, 2), ...le(0xffff, 2), ...le(0xffffffff, 4), ...le(0xffffffff, 4), ...le(0, 2)]);
  } else {
    push(parts, [...le(0x06054b50, 4), ...le(0, 2), ...le(0, 2), ...le(count, 2), ...le(count, 2), ...le(central.length, 4), ...le(cdOffset, 4), ...le(0, 2)]);
  }
  return Uint8Array.from(parts);
}

/** A torch.save-like archive: `<folder>/data.pkl`, `<folder>/data/<key>` records, `byteorder`, `version`. */
export function buildTorchZip(opts: { folder?: string; pickle: Uint8Array; storages?: Record<string, Uint8Array>; byteorder?: string; zip64?: boolean | 'offset'; pickleMethod?: number }): Uint8Array {
  const folder = opts.folder ?? 'archive';
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const entries: ZipInput[] = [{ name: `${folder}/data.pkl`, data: opts.pickle, method: opts.pickleMethod ?? 0 }];
  if (opts.byteorder !== undefined) entries.push({ name: `${folder}/byteorder`, data: text(opts.byteorder) });
  for (const [key, data] of Object.entries(opts.storages ?? {})) entries.push({ name: `${folder}/data/${key}`, data });
  entries.push({ name: `${folder}/version`, data: text('3\n') });
  return buildZip(entries, { align: 64, zip64: opts.zip64 ?? false });
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
