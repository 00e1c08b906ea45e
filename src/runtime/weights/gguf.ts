// Reads GGUF v2/v3 files (llama.cpp's format) into a WeightFile.
//
// Layout, all little-endian:
//   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count × { string key, u32 value_type, value },
//   tensor_count × { string name, u32 n_dims, n_dims × i64 ne, u32 ggml_type, u64 offset },
//   padding up to `general.alignment` (default 32), then the tensor data.
// A string is a u64 byte length then UTF-8 bytes; an array is u32 element type, u64 count,
// then the elements (arrays may nest). A tensor offset is relative to the data start.
//
// Invariants: every length and count read from the file is checked against the bytes that
// remain before anything is allocated or read for it, so a truncated or hostile file is a
// SmeltError (WEIGHT302 corrupt, WEIGHT303 not GGUF / wrong version, WEIGHT305 tensor type)
// and never a RangeError. Shapes come out outer → inner: ggml's ne is reversed.
// 64-bit metadata integers are numbers when they are safe integers, bigints otherwise.
import { SmeltError } from '../../../ir/diagnostics.js';
import { tensorByteLength } from './dequant.js';
import type { GgufScalar, GgufType } from './gguf-types.js';
import {
  GGML_DTYPES, GGUF_DEFAULT_ALIGNMENT as DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_MAX_DIMS as MAX_DIMS,
  GGUF_TYPE_NAMES, GGUF_VALUE_TYPES as T,
} from './gguf-types.js';
import type { MetaValue, TensorEntry, WeightFile } from './types.js';

const MAX_ARRAY_DEPTH = 8; // nesting limit, so a hostile file cannot exhaust the stack

/** Names of the ggml types smelt does not decode, for error messages. */
const GGML_OTHER_NAMES: Record<number, string> = {
  3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K',
  14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 29: 'IQ1_M',
};

/** Fewest bytes one value of each type takes, to bound a count before reading elements. */
const MIN_VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** Fewest bytes of one key/value pair (empty key, type, a u8) and of one tensor info. */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

interface TensorInfo {
  name: string;
  ne: number[]; // ggml order: ne[0] is the contiguous row length
  ggmlType: number;
  offset: number | bigint; // relative to the data start
}

export function readGguf(path: string, bytes: Uint8Array): WeightFile {
  const cur = new Cursor(path, bytes);

  // header: magic, version and the two counts
  readMagicAndVersion(cur);
  cur.what = 'GGUF header';
  const tensorCount = cur.count(MIN_TENSOR_INFO_BYTES, 'tensor count');
  const kvCount = cur.count(MIN_KV_BYTES, 'metadata count');

  // metadata key/values, then tensor infos, both in file order
  const { metadata, types } = readMetadata(cur, kvCount);
  const infos = readTensorInfos(cur, tensorCount);

  // tensor data starts at the next multiple of the alignment
  const alignment = alignmentOf(path, metadata);
  const dataStart = Math.ceil(cur.pos / alignment) * alignment;
  const tensors = new Map<string, TensorEntry>();
  for (const info of infos) tensors.set(info.name, locate(path, bytes, info, dataStart, alignment));
  return { path, format: 'gguf', metadata, tensors, bytes, ggufTypes: types };
}

function readMagicAndVersion(cur: Cursor): void {
  const magic = cur.u32();
  if (magic !== GGUF_MAGIC) {
    const hex = magic.toString(16).padStart(8, '0');
    throw new SmeltError(
      'WEIGHT303',
      `${cur.path}: not a GGUF file (magic 0x${hex}, expected 0x46554747 "GGUF")`,
    );
  }
  cur.what = 'GGUF version';
  const version = cur.u32();
  if (version === 2 || version === 3) return;
  const swapped = new DataView(new Uint32Array([version]).buffer).getUint32(0, false);
  const hint = swapped === 2 || swapped === 3 ? ' (a big-endian file?)' : '';
  throw new SmeltError(
    'WEIGHT303',
    `${cur.path}: GGUF version ${version}${hint} is not supported; expected version 2 or 3`,
  );
}

/** The key/values, and the stored type of each (an array of arrays: its first one's type). */
function readMetadata(cur: Cursor, kvCount: number) {
  const metadata = new Map<string, MetaValue>();
  const types = new Map<string, GgufType>();
  for (let i = 0; i < kvCount; i++) {
    cur.what = `metadata key #${i}`;
    const key = cur.string();
    cur.what = `metadata value ${key}`;
    const typed = readValue(cur, cur.u32(), 0);
    if (metadata.has(key)) throw cur.corrupt(`metadata key ${key} appears twice`);
    metadata.set(key, typed.value);
    types.set(key, typed.type);
  }
  return { metadata, types };
}

function readValue(cur: Cursor, type: number, depth: number): { value: MetaValue; type: GgufType } {
  const name = GGUF_TYPE_NAMES[type];
  if (name === 'array') return readArray(cur, depth);
  const value = ((): MetaValue => {
    switch (type) {
      case T.u8: return cur.u8();
      case T.i8: return cur.i8();
      case T.u16: return cur.u16();
      case T.i16: return cur.i16();
      case T.u32: return cur.u32();
      case T.i32: return cur.i32();
      case T.f32: return cur.f32();
      case T.bool: return cur.bool();
      case T.string: return cur.string();
      case T.u64: return cur.u64();
      case T.i64: return cur.i64();
      case T.f64: return cur.f64();
      default: throw cur.corrupt(`${cur.what} has unknown value type ${type}, expected 0..12`);
    }
  })();
  return { value, type: name as GgufScalar };
}

function readArray(cur: Cursor, depth: number): { value: MetaValue[]; type: GgufType } {
  if (depth >= MAX_ARRAY_DEPTH) {
    throw cur.corrupt(`${cur.what} nests arrays deeper than ${MAX_ARRAY_DEPTH} levels`);
  }
  const type = cur.u32();
  const minBytes = MIN_VALUE_BYTES[type];
  if (minBytes === undefined) {
    throw cur.corrupt(`${cur.what} has arrays of unknown value type ${type}, expected 0..12`);
  }
  const n = cur.count(minBytes, 'array length');
  const value: MetaValue[] = [];
  let of: GgufType = type === T.array ? { array: 'u8' } : (GGUF_TYPE_NAMES[type] as GgufScalar);
  for (let i = 0; i < n; i++) {
    const item = readValue(cur, type, depth + 1);
    if (i === 0) of = item.type;
    value.push(item.value);
  }
  return { value, type: { array: of } };
}

function readTensorInfos(cur: Cursor, tensorCount: number): TensorInfo[] {
  const infos: TensorInfo[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    cur.what = `tensor info #${i}`;
    const name = cur.string();
    if (seen.has(name)) throw cur.corrupt(`tensor ${name} appears twice`);
    seen.add(name);
    cur.what = `tensor ${name}`;
    const nDims = cur.u32();
    if (nDims > MAX_DIMS) {
      throw cur.corrupt(`tensor ${name} has ${nDims} dimensions, expected at most ${MAX_DIMS}`);
    }
    const ne: number[] = [];
    for (let d = 0; d < nDims; d++) ne.push(readDim(cur, name, d));
    infos.push({ name, ne, ggmlType: cur.u32(), offset: cur.u64() });
  }
  return infos;
}

function readDim(cur: Cursor, name: string, d: number): number {
  const v = cur.i64();
  if (typeof v === 'bigint' || v < 0) {
    throw cur.corrupt(`tensor ${name} has ne[${d}] = ${v}, expected a non-negative size`);
  }
  return v;
}

function alignmentOf(path: string, metadata: Map<string, MetaValue>): number {
  const a = metadata.get('general.alignment') ?? DEFAULT_ALIGNMENT;
  if (typeof a === 'number' && Number.isInteger(a) && a > 0 && (a & (a - 1)) === 0) return a;
  throw new SmeltError(
    'WEIGHT302',
    `${path}: general.alignment is ${JSON.stringify(String(a))}, expected a power of two`,
  );
}

/** Turns one tensor info into an entry, checking its type, size and place in the file. */
function locate(
  path: string,
  bytes: Uint8Array,
  info: TensorInfo,
  dataStart: number,
  alignment: number,
): TensorEntry {
  const { name, ggmlType } = info;
  const dtype = GGML_DTYPES[ggmlType];
  if (dtype === undefined) {
    const known = GGML_OTHER_NAMES[ggmlType];
    throw new SmeltError(
      'WEIGHT305',
      `${path}: tensor ${name} has ggml type ${ggmlType}${known ? ` (${known})` : ''}; ` +
        'supported: F32 (0), F16 (1), Q4_0 (2), Q8_0 (8), BF16 (30)',
    );
  }
  const shape = [...info.ne].reverse();
  const byteLength = tensorByteLength(path, name, dtype, shape);
  const rel = info.offset;
  if (typeof rel === 'number' && rel % alignment !== 0) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} has data offset ${rel}, expected a multiple of ${alignment}`,
    );
  }
  const offset = typeof rel === 'number' ? dataStart + rel : Infinity;
  if (offset + byteLength > bytes.length) {
    const at = typeof rel === 'number' ? offset : `${dataStart} + ${rel}`;
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} needs ${byteLength} bytes at offset ${at} ` +
        `but file ends at ${bytes.length}`,
    );
  }
  return { name, dtype, shape, offset, byteLength };
}

/** u64/i64 → number when it is a safe integer, else bigint. */
function narrow(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

const utf8 = new TextDecoder('utf-8');

/** A bounds-checked little-endian reader; `what` names the item being read for errors. */
class Cursor {
  pos = 0;
  what = 'GGUF header';
  private readonly view: DataView;

  constructor(
    readonly path: string,
    private readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  corrupt(detail: string): SmeltError {
    return new SmeltError('WEIGHT302', `${this.path}: ${detail}`);
  }

  /** Claims `n` bytes at the cursor and returns where they start. */
  private take(n: number): number {
    const at = this.pos;
    if (at + n > this.bytes.length) {
      throw this.corrupt(
        `${this.what} needs ${n} bytes at offset ${at} but file ends at ${this.bytes.length}`,
      );
    }
    this.pos = at + n;
    return at;
  }

  u8(): number { return this.view.getUint8(this.take(1)); }
  i8(): number { return this.view.getInt8(this.take(1)); }
  u16(): number { return this.view.getUint16(this.take(2), true); }
  i16(): number { return this.view.getInt16(this.take(2), true); }
  u32(): number { return this.view.getUint32(this.take(4), true); }
  i32(): number { return this.view.getInt32(this.take(4), true); }
  f32(): number { return this.view.getFloat32(this.take(4), true); }
  f64(): number { return this.view.getFloat64(this.take(8), true); }
  u64(): number | bigint { return narrow(this.view.getBigUint64(this.take(8), true)); }
  i64(): number | bigint { return narrow(this.view.getBigInt64(this.take(8), true)); }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw this.corrupt(`${this.what} is a bool stored as ${b}, expected 0 or 1`);
    return b === 1;
  }

  /** A u64 count of items of at least `minBytes` each, checked against the bytes left. */
  count(minBytes: number, label: string): number {
    const n = this.view.getBigUint64(this.take(8), true);
    const left = this.bytes.length - this.pos;
    if (n * BigInt(minBytes) > BigInt(left)) {
      throw this.corrupt(
        `${this.what} has ${label} ${n}, which needs at least ${n * BigInt(minBytes)} bytes ` +
          `at offset ${this.pos} but file ends at ${this.bytes.length}`,
      );
    }
    return Number(n);
  }

  string(): string {
    const n = this.count(1, 'string length');
    const at = this.take(n);
    return utf8.decode(this.bytes.subarray(at, at + n));
  }
}
