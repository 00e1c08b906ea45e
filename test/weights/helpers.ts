// Test helpers for the weight readers: a tiny GGUF writer for hand-made (and hostile) files,
// a seeded PRNG, and an assertion that a call fails with a given SmeltError code.
import { expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { type DiagnosticCode, SmeltError } from '../../ir/diagnostics.js';
import { modelPath } from '../models.js';

/** GGUF metadata value types. */
export const GT = {
  U8: 0, I8: 1, U16: 2, I16: 3, U32: 4, I32: 5, F32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, U64: 10, I64: 11, F64: 12,
} as const;

/** An array value for `buildGguf`: element type and items (nested arrays use GgufArray). */
export interface GgufArray {
  of: number;
  items: unknown[];
}

export interface GgufTensorSpec {
  name: string;
  ne: (number | bigint)[]; // ggml order, ne[0] innermost
  type: number; // ggml type number
  data: Uint8Array;
  offset?: number | bigint; // relative to the data start; default: packed, aligned
}

/** Little-endian byte sink. */
export class Bytes {
  private out: number[] = [];
  u8(v: number): this { this.out.push(v & 0xff); return this; }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }
  private put(n: number, set: (v: DataView) => void): this {
    const v = new DataView(new ArrayBuffer(n));
    set(v);
    return this.raw(new Uint8Array(v.buffer));
  }
  u16(x: number): this { return this.put(2, (v) => v.setUint16(0, x, true)); }
  i16(x: number): this { return this.put(2, (v) => v.setInt16(0, x, true)); }
  u32(x: number): this { return this.put(4, (v) => v.setUint32(0, x, true)); }
  i32(x: number): this { return this.put(4, (v) => v.setInt32(0, x, true)); }
  f32(x: number): this { return this.put(4, (v) => v.setFloat32(0, x, true)); }
  f64(x: number): this { return this.put(8, (v) => v.setFloat64(0, x, true)); }
  u64(x: number | bigint): this { return this.put(8, (v) => v.setBigUint64(0, BigInt(x), true)); }
  i64(x: number | bigint): this { return this.put(8, (v) => v.setBigInt64(0, BigInt(x), true)); }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u64(b.length).raw(b);
  }
  get length(): number { return this.out.length; }
  pad(to: number): this { while (this.out.length % to !== 0) this.out.push(0); return this; }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

function writeValue(w: Bytes, type: number, v: unknown): void {
  switch (type) {
    case GT.U8: w.u8(v as number); break;
    case GT.I8: w.u8(v as number); break;
    case GT.U16: w.u16(v as number); break;
    case GT.I16: w.i16(v as number); break;
    case GT.U32: w.u32(v as number); break;
    case GT.I32: w.i32(v as number); break;
    case GT.F32: w.f32(v as number); break;
    case GT.BOOL: w.u8(v === true ? 1 : v === false ? 0 : (v as number)); break;
    case GT.STRING: w.str(v as string); break;
    case GT.U64: w.u64(v as number | bigint); break;
    case GT.I64: w.i64(v as number | bigint); break;
    case GT.F64: w.f64(v as number); break;
    case GT.ARRAY: {
      const a = v as GgufArray;
      w.u32(a.of).u64(a.items.length);
      for (const item of a.items) writeValue(w, a.of, item);
      break;
    }
    default: throw new Error(`test builder: unknown type ${type}`);
  }
}

/** A GGUF file from parts; tensor data is packed at `alignment` unless offsets are given. */
export function buildGguf(spec: {
  version?: number;
  kv?: [string, number, unknown][];
  tensors?: GgufTensorSpec[];
  alignment?: number;
}): Uint8Array {
  const { version = 3, kv = [], tensors = [], alignment = 32 } = spec;
  const w = new Bytes().raw([0x47, 0x47, 0x55, 0x46]).u32(version);
  w.u64(tensors.length).u64(kv.length);
  for (const [key, type, value] of kv) {
    w.str(key).u32(type);
    writeValue(w, type, value);
  }
  let next = 0;
  for (const t of tensors) {
    w.str(t.name).u32(t.ne.length);
    for (const d of t.ne) w.i64(d);
    w.u32(t.type).u64(t.offset ?? next);
    next += Math.ceil(t.data.length / alignment) * alignment;
  }
  w.pad(alignment);
  for (const t of tensors) w.raw(t.data).pad(alignment);
  return w.bytes();
}

/** Runs `fn`, expects a SmeltError with `code` whose message contains every fragment. */
export function expectSmeltError(
  fn: () => unknown,
  code: DiagnosticCode,
  ...fragments: string[]
): SmeltError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (!(caught instanceof SmeltError)) {
    const got = caught === undefined ? 'no error' : String(caught);
    throw new Error(`expected SmeltError ${code}, got ${got}`);
  }
  expect(caught.code).toBe(code);
  for (const f of fragments) expect(caught.message).toContain(f);
  return caught;
}

/** Deterministic uniform [0, 1) numbers (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The bytes of a shared stories260K file, read once per test file. */
const cache = new Map<string, Uint8Array>();
export function storiesBytes(name: string): { path: string; bytes: Uint8Array } {
  const path = modelPath(`stories260K/${name}`);
  if (!cache.has(path)) cache.set(path, new Uint8Array(readFileSync(path)));
  return { path, bytes: cache.get(path)! };
}

/** f32 values as raw little-endian bytes. */
export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
