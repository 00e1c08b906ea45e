// Turns a stored tensor (f32, f16, bf16, q8_0, q4_0) into a fresh Float32Array.
//
// Block layouts are declared once in `BLOCKS`; every reader sizes tensors through
// `tensorByteLength`, so a reader and this decoder can never disagree about a size.
// Invariants: the result is always a new, 4-byte-aligned array the caller owns; the source
// may sit at any byte offset. Multi-byte values are little-endian on disk and are decoded
// either byte by byte or by copying into a typed array, which assumes a little-endian host
// (x64 and arm64, every target smelt runs on).
// A tensor whose recorded size or range disagrees with its shape is WEIGHT302, never a
// RangeError; quantized tensors need rows that are a whole number of 32-element blocks.
import { SmeltError, assertNever } from '../../../ir/diagnostics.js';
import type { FileDType, TensorEntry, WeightFile } from './types.js';

/** How each dtype packs elements: `elements` per block stored in `bytes` bytes. */
export const BLOCKS: Record<FileDType, { elements: number; bytes: number }> = {
  f32: { elements: 1, bytes: 4 },
  f16: { elements: 1, bytes: 2 },
  bf16: { elements: 1, bytes: 2 },
  q8_0: { elements: 32, bytes: 2 + 32 }, // f16 d, then 32 int8 q
  q4_0: { elements: 32, bytes: 2 + 16 }, // f16 d, then 16 bytes of two 4-bit q each
};

/** Elements in a tensor of `shape` (1 for a scalar []). May be unsafe for hostile shapes. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Bytes a tensor of `dtype` and `shape` occupies. Throws WEIGHT302 when a dimension is not a
 * non-negative integer, a quantized row is not a whole number of blocks, or the size is not
 * a safe integer.
 */
export function tensorByteLength(
  path: string,
  name: string,
  dtype: FileDType,
  shape: readonly number[],
): number {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} has shape [${shape.join(', ')}], expected non-negative integers`,
    );
  }
  const block = BLOCKS[dtype];
  const row = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (row % block.elements !== 0) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} (${dtype}) has rows of ${row} elements, ` +
        `expected a multiple of the ${block.elements}-element block`,
    );
  }
  const bytes = (elementCount(shape) / block.elements) * block.bytes;
  if (!Number.isSafeInteger(bytes)) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} has shape [${shape.join(', ')}], too large to address`,
    );
  }
  return bytes;
}

/** IEEE half (binary16) bits → number, including subnormals, ±0, ±inf and NaN. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const scratchU32 = new Uint32Array(1);
const scratchF32 = new Float32Array(scratchU32.buffer);

/** bfloat16 bits → number: the upper half of an IEEE float32. */
export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0]!;
}

/** All 65536 half values, built on first use (256 KiB). */
let f16Table: Float32Array | undefined;
function halfTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32(h);
  }
  return f16Table;
}

/** Decodes `entry` of `file` into a new Float32Array of product(shape) elements. */
export function tensorToF32(file: WeightFile, entry: TensorEntry): Float32Array {
  const src = checkedBytes(file, entry);
  const n = elementCount(entry.shape);
  switch (entry.dtype) {
    case 'f32':
      return copyF32(src, n);
    case 'f16':
      return decodeF16(src, n);
    case 'bf16':
      return decodeBf16(src, n);
    case 'q8_0':
      return decodeQ8_0(src, n);
    case 'q4_0':
      return decodeQ4_0(src, n);
    default:
      return assertNever(entry.dtype, 'weight dtype');
  }
}

/** The tensor's bytes, after checking that its recorded size matches its shape and file. */
function checkedBytes(file: WeightFile, entry: TensorEntry): Uint8Array {
  const expected = tensorByteLength(file.path, entry.name, entry.dtype, entry.shape);
  if (entry.byteLength !== expected) {
    throw new SmeltError(
      'WEIGHT302',
      `${file.path}: tensor ${entry.name} (${entry.dtype}, shape [${entry.shape.join(', ')}]) ` +
        `should take ${expected} bytes but takes ${entry.byteLength}`,
    );
  }
  const end = entry.offset + entry.byteLength;
  if (!(Number.isSafeInteger(entry.offset) && entry.offset >= 0 && end <= file.bytes.length)) {
    throw new SmeltError(
      'WEIGHT302',
      `${file.path}: tensor ${entry.name} needs ${entry.byteLength} bytes at offset ` +
        `${entry.offset} but file ends at ${file.bytes.length}`,
    );
  }
  return file.bytes.subarray(entry.offset, end);
}

/** A byte-wise copy into aligned storage, so any source offset works. */
function copyF32(src: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(src);
  return out;
}

function halves(src: Uint8Array, n: number): Uint16Array {
  const h = new Uint16Array(n);
  new Uint8Array(h.buffer).set(src);
  return h;
}

function decodeF16(src: Uint8Array, n: number): Float32Array {
  const table = halfTable();
  const h = halves(src, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[h[i]!]!;
  return out;
}

function decodeBf16(src: Uint8Array, n: number): Float32Array {
  const h = halves(src, n);
  const bits = new Uint32Array(n);
  for (let i = 0; i < n; i++) bits[i] = h[i]! << 16;
  return new Float32Array(bits.buffer);
}

/** Q8_0: per 32 weights, f16 d then 32 int8 q; w = d·q. */
function decodeQ8_0(src: Uint8Array, n: number): Float32Array {
  const table = halfTable();
  const out = new Float32Array(n);
  const { bytes } = BLOCKS.q8_0;
  for (let b = 0; b < n / 32; b++) {
    const o = b * bytes;
    const d = table[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * ((src[o + 2 + j]! << 24) >> 24);
  }
  return out;
}

/** Q4_0: per 32 weights, f16 d then 16 bytes; byte j = element j (low), j+16 (high). */
function decodeQ4_0(src: Uint8Array, n: number): Float32Array {
  const table = halfTable();
  const out = new Float32Array(n);
  const { bytes } = BLOCKS.q4_0;
  for (let b = 0; b < n / 32; b++) {
    const o = b * bytes;
    const i = b * 32;
    const d = table[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = src[o + 2 + j]!;
      out[i + j] = d * ((q & 0x0f) - 8);
      out[i + j + 16] = d * ((q >> 4) - 8);
    }
  }
  return out;
}
