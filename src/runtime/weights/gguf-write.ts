// Writes a GGUF v3 file: the layout `gguf.ts` reads, produced the way ggml's gguf writer
// lays it out, so llama.cpp and other GGUF readers accept it.
//
//   "GGUF", u32 3, u64 tensor_count, u64 kv_count,
//   kv_count × { string key, u32 value_type, value },
//   tensor_count × { string name, u32 n_dims, n_dims × i64 ne, u32 ggml_type, u64 offset },
//   zero padding to the alignment, then each tensor's data, zero-padded to the alignment.
// ne is ggml order, the reverse of the outer → inner shape: a [vocab_size, dim] embedding
// has ne = [dim, vocab_size]. Offsets are relative to the data start, in the order given.
// The alignment is `general.alignment` when the metadata has it (a u32 power of two), else
// 32.
//
// Every value must fit its declared type and every tensor's bytes must match its dtype and
// shape; anything else is a bug in the caller (InternalError), since the writer's inputs
// are built by smelt, not read from a user.
import { InternalError } from '../../../ir/diagnostics.js';
import type { StoredDType } from '../../../ir/quant.js';
import { STORED, storedBytes } from '../../../ir/quant.js';
import { elementCount } from './dequant.js';
import type { GgufType } from './gguf-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_DIMS, GGUF_VALUE_TYPES as T, GGUF_VERSION,
  formatGgufType,
} from './gguf-types.js';
import type { MetaValue } from './types.js';

export interface GgufKeyValue {
  key: string;
  type: GgufType;
  value: MetaValue;
}

export interface GgufTensorOut {
  name: string;
  dtype: StoredDType;
  shape: number[]; // outer → inner
  data: Uint8Array; // the encoded elements, exactly storedBytes(dtype, elements)
}

const INT_RANGES: Record<string, [bigint, bigint]> = {
  u8: [0n, 0xffn], i8: [-0x80n, 0x7fn], u16: [0n, 0xffffn], i16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffffffffn], i32: [-0x80000000n, 0x7fffffffn],
  u64: [0n, 0xffffffffffffffffn], i64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

const fail = (detail: string): never => {
  throw new InternalError('gguf-write', detail);
};

/** The GGUF bytes of `metadata` (in order) and `tensors` (in order). */
export function writeGguf(metadata: GgufKeyValue[], tensors: GgufTensorOut[]): Uint8Array {
  const alignment = alignmentOf(metadata);

  // tensor data offsets, each aligned
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of tensors) {
    checkTensor(t);
    offsets.push(dataSize);
    dataSize += align(t.data.length, alignment);
  }

  // header, metadata and tensor infos
  const head = new Sink();
  head.u32(GGUF_MAGIC).u32(GGUF_VERSION).u64(tensors.length).u64(metadata.length);
  const keys = new Set<string>();
  for (const kv of metadata) {
    if (keys.has(kv.key)) fail(`metadata key ${kv.key} is given twice`);
    keys.add(kv.key);
    head.string(kv.key);
    writeTyped(head, kv.type, kv.value, kv.key, true);
  }
  tensors.forEach((t, i) => {
    head.string(t.name).u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(STORED[t.dtype].ggmlType).u64(offsets[i]!);
  });

  // one buffer: header, padding, then the aligned tensor data (padding is zeros)
  const dataStart = align(head.length, alignment);
  const out = new Uint8Array(dataStart + dataSize);
  out.set(head.bytes());
  tensors.forEach((t, i) => out.set(t.data, dataStart + offsets[i]!));
  return out;
}

function align(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

function alignmentOf(metadata: GgufKeyValue[]): number {
  const kv = metadata.find((m) => m.key === 'general.alignment');
  if (!kv) return GGUF_DEFAULT_ALIGNMENT;
  const a = kv.value;
  if (kv.type !== 'u32' || typeof a !== 'number' || !(a > 0 && (a & (a - 1)) === 0)) {
    return fail(`general.alignment must be a u32 power of two, got ${String(a)}`);
  }
  return a;
}

function checkTensor(t: GgufTensorOut): void {
  if (t.shape.length > GGUF_MAX_DIMS) fail(`tensor ${t.name} has ${t.shape.length} dims`);
  const row = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1]!;
  if (row % STORED[t.dtype].elements !== 0) {
    fail(`tensor ${t.name} has rows of ${row}, not whole ${t.dtype} blocks`);
  }
  const want = storedBytes(t.dtype, elementCount(t.shape));
  if (t.data.length !== want) {
    fail(`tensor ${t.name} (${t.dtype} [${t.shape.join(', ')}]) has ${t.data.length} bytes, ` +
      `expected ${want}`);
  }
}

/** Writes the value type (when `withType`) and the value of `key`. */
function writeTyped(w: Sink, type: GgufType, value: MetaValue, key: string, withType: boolean) {
  const bad = () => fail(`metadata ${key}: ${String(value)} is not a ${formatGgufType(type)}`);
  if (typeof type !== 'string') {
    if (!Array.isArray(value)) return bad();
    if (withType) w.u32(T.array);
    w.u32(typeof type.array === 'string' ? T[type.array] : T.array).u64(value.length);
    for (const item of value) writeTyped(w, type.array, item, key, false);
    return;
  }
  if (withType) w.u32(T[type]);
  switch (type) {
    case 'string': return typeof value === 'string' ? void w.string(value) : bad();
    case 'bool': return typeof value === 'boolean' ? void w.u8(value ? 1 : 0) : bad();
    case 'f32': return typeof value === 'number' ? void w.f32(value) : bad();
    case 'f64': return typeof value === 'number' ? void w.f64(value) : bad();
    default: {
      const ok = typeof value === 'bigint' ||
        (typeof value === 'number' && Number.isInteger(value));
      if (!ok) return bad();
      const v = BigInt(value);
      const [lo, hi] = INT_RANGES[type]!;
      if (v < lo || v > hi) return bad();
      w.int(type, v);
    }
  }
}

/** A growable little-endian byte buffer. */
class Sink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  /** Claims `n` bytes (growing the buffer first) and hands their offset to `write`. */
  private put(n: number, write: (view: DataView, at: number) => void): this {
    if (this.length + n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      bigger.set(this.buf);
      this.buf = bigger;
      this.view = new DataView(bigger.buffer);
    }
    write(this.view, this.length);
    this.length += n;
    return this;
  }

  u8(v: number): this { return this.put(1, (d, at) => d.setUint8(at, v)); }
  u32(v: number): this { return this.put(4, (d, at) => d.setUint32(at, v, true)); }
  u64(v: number): this { return this.put(8, (d, at) => d.setBigUint64(at, BigInt(v), true)); }
  f32(v: number): this { return this.put(4, (d, at) => d.setFloat32(at, v, true)); }
  f64(v: number): this { return this.put(8, (d, at) => d.setFloat64(at, v, true)); }

  /** An integer of a range-checked integer type. */
  int(type: string, v: bigint): this {
    const n = Number(v);
    switch (type) {
      case 'u8': return this.put(1, (d, at) => d.setUint8(at, n));
      case 'i8': return this.put(1, (d, at) => d.setInt8(at, n));
      case 'u16': return this.put(2, (d, at) => d.setUint16(at, n, true));
      case 'i16': return this.put(2, (d, at) => d.setInt16(at, n, true));
      case 'u32': return this.put(4, (d, at) => d.setUint32(at, n, true));
      case 'i32': return this.put(4, (d, at) => d.setInt32(at, n, true));
      case 'u64': return this.put(8, (d, at) => d.setBigUint64(at, v, true));
      case 'i64': return this.put(8, (d, at) => d.setBigInt64(at, v, true));
      default: return fail(`${type} is not an integer type`);
    }
  }

  string(s: string): this {
    const b = utf8.encode(s);
    return this.u64(b.length).put(b.length, (d, at) => new Uint8Array(d.buffer).set(b, at));
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const utf8 = new TextEncoder();
