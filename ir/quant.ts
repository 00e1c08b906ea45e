// Stored dtypes of weights — f32, f16, bf16 and ggml's block formats q8_0 and q4_0 —
// declared once, with encoders that reproduce ggml's reference code bit for bit.
//
// Blocks (little-endian; a tensor row must be a whole number of blocks):
//   q8_0  34 bytes per 32 weights: f16 d, then 32 × int8 q                 w = d·q
//   q4_0  18 bytes per 32 weights: f16 d, then 16 bytes; byte j holds element j in its
//         low nibble and element j+16 in its high nibble                   w = d·(q − 8)
// Quantization, as ggml-quants.c quantize_row_q8_0_ref / quantize_row_q4_0_ref, all in f32:
//   q8_0  amax = max |x|;  d = amax / 127;  id = d ? 1/d : 0;  q = roundf(x·id)
//         (roundf: half away from zero)
//   q4_0  max = the x of largest |x| (the first one on ties, 0 for an all-zero block);
//         d = max / −8;  id = d ? 1/d : 0;  q = min(15, (int8)(x·id + 8.5))  (truncation)
// An all-zero block stores d = +0 (q8_0: bits 0x0000, q = 0) and d = −0 (q4_0: bits
// 0x8000, since 0 / −8 = −0; every nibble 8).
// Each f32 operation is done as one double operation then Math.fround: for + − × ÷ the
// double result rounded to f32 equals the f32 operation, because a double carries more
// than 2·24 + 2 significand bits.
// f32 → f16 rounds to nearest even (subnormals kept, overflow → ±inf, NaN → sign|0x7e00),
// as ggml's generic GGML_FP32_TO_FP16 and F16C's _cvtss_sh do for every non-NaN input.
// f32 → bf16 rounds to nearest even and turns a NaN into its top half with the quiet bit
// (0x40) set, as ggml_compute_fp32_to_bf16 does; subnormals are kept, not flushed.
import { InternalError, assertNever } from './diagnostics.js';

/** Element encodings a weight can be stored in. */
export type StoredDType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q4_0';

export interface StoredInfo {
  elements: number; // elements per block (1 for the float formats)
  bytes: number; // bytes per block
  ggmlType: number; // enum ggml_type
}

/** Elements per q8_0 / q4_0 block (ggml's QK8_0, QK4_0). */
export const QK = 32;

export const STORED: Record<StoredDType, StoredInfo> = {
  f32: { elements: 1, bytes: 4, ggmlType: 0 },
  f16: { elements: 1, bytes: 2, ggmlType: 1 },
  q4_0: { elements: QK, bytes: 2 + QK / 2, ggmlType: 2 }, // f16 d, 16 bytes of nibbles
  q8_0: { elements: QK, bytes: 2 + QK, ggmlType: 8 }, // f16 d, 32 int8
  bf16: { elements: 1, bytes: 2, ggmlType: 30 },
};

export const STORED_DTYPES = Object.keys(STORED) as StoredDType[];

// ---- scalar conversions ---------------------------------------------------------------

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0]!;
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

/** number (taken as f32) → half bits, rounding to nearest even. */
export function f32ToF16(x: number): number {
  const w = f32Bits(x);
  const sign = (w >>> 16) & 0x8000;
  const exp = (w >>> 23) & 0xff;
  const mant = w & 0x7fffff;
  if (exp === 0xff) return sign | (mant === 0 ? 0x7c00 : 0x7e00);
  const e = exp - 127 + 15; // the half's biased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // half subnormal: the value in units of 2^-24, rounded; below 2^-25 it is 0
    if (e < -10) return sign;
    return sign | roundShift(mant | 0x800000, 14 - e);
  }
  // normal: drop 13 mantissa bits; a carry may ripple into the exponent (up to inf)
  return sign | roundShift((e << 23) | mant, 13);
}

/** `m >> s` rounded to nearest, ties to even. */
function roundShift(m: number, s: number): number {
  const q = m >>> s;
  const rem = m - q * 2 ** s;
  const half = 2 ** (s - 1);
  return rem > half || (rem === half && (q & 1) === 1) ? q + 1 : q;
}

/** bfloat16 bits → number: the upper half of an IEEE float32. */
export function bf16ToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0]!;
}

/** number (taken as f32) → bfloat16 bits, rounding to nearest even; NaN stays a quiet NaN. */
export function f32ToBf16(x: number): number {
  const w = f32Bits(x);
  if ((w & 0x7fffffff) > 0x7f800000) return (w >>> 16) | 0x40;
  return Math.floor((w + 0x7fff + ((w >>> 16) & 1)) / 0x10000);
}

/** C's roundf: nearest integer, halfway cases away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

// ---- whole tensors ----------------------------------------------------------------------

/** Bytes `n` elements take in `dtype`; `n` must be a whole number of blocks. */
export function storedBytes(dtype: StoredDType, n: number): number {
  const { elements, bytes } = STORED[dtype];
  if (n % elements !== 0) {
    throw new InternalError('quant', `${n} elements are not whole ${dtype} blocks of ${elements}`);
  }
  return (n / elements) * bytes;
}

/** Encodes f32 data (row-major, rows a whole number of blocks) as `dtype`. */
export function encode(dtype: StoredDType, x: Float32Array): Uint8Array {
  const out = new Uint8Array(storedBytes(dtype, x.length));
  switch (dtype) {
    case 'f32': out.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)); break;
    case 'f16': encodeHalves(x, out, f32ToF16); break;
    case 'bf16': encodeHalves(x, out, f32ToBf16); break;
    case 'q8_0': quantizeQ8_0(x, out); break;
    case 'q4_0': quantizeQ4_0(x, out); break;
    default: assertNever(dtype, 'stored dtype');
  }
  return out;
}

/** Decodes `n` elements of `dtype` from `src` (any byte offset) into a new Float32Array. */
export function decode(dtype: StoredDType, src: Uint8Array, n: number): Float32Array {
  const want = storedBytes(dtype, n);
  if (src.length !== want) {
    throw new InternalError('quant',
      `${n} ${dtype} elements take ${want} bytes, got ${src.length}`);
  }
  switch (dtype) {
    case 'f32': {
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(src); // a copy, so any source offset works
      return out;
    }
    case 'f16': return decodeHalves(src, n, halfTable());
    case 'bf16': return decodeHalves(src, n, undefined);
    case 'q8_0': return dequantizeQ8_0(src, n);
    case 'q4_0': return dequantizeQ4_0(src, n);
    default: return assertNever(dtype, 'stored dtype');
  }
}

function encodeHalves(x: Float32Array, out: Uint8Array, half: (v: number) => number): void {
  for (let i = 0; i < x.length; i++) {
    const h = half(x[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
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

/** f16 through the table, or bf16 (table undefined) as the top half of an f32. */
function decodeHalves(src: Uint8Array, n: number, table: Float32Array | undefined): Float32Array {
  const out = new Float32Array(n);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) {
    const h = src[2 * i]! | (src[2 * i + 1]! << 8);
    if (table) out[i] = table[h]!;
    else bits[i] = h << 16;
  }
  return out;
}

/** quantize_row_q8_0_ref: per block d = amax/127, q = roundf(x·(1/d)). */
function quantizeQ8_0(x: Float32Array, out: Uint8Array): void {
  const { bytes } = STORED.q8_0;
  for (let b = 0; b < x.length / QK; b++) {
    const i0 = b * QK;
    const o = b * bytes;
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const v = Math.abs(x[i0 + j]!);
      amax = amax > v ? amax : v; // ggml's MAX(amax, fabsf(v))
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    for (let j = 0; j < QK; j++) out[o + 2 + j] = roundf(Math.fround(x[i0 + j]! * id)) & 0xff;
  }
}

/** quantize_row_q4_0_ref: d = max/−8, q = min(15, trunc(x·(1/d) + 8.5)). */
function quantizeQ4_0(x: Float32Array, out: Uint8Array): void {
  const { bytes } = STORED.q4_0;
  const half = QK / 2;
  for (let b = 0; b < x.length / QK; b++) {
    const i0 = b * QK;
    const o = b * bytes;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[i0 + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    out[o] = h & 0xff;
    out[o + 1] = h >>> 8;
    const nibble = (v: number) =>
      Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < half; j++) {
      out[o + 2 + j] = nibble(x[i0 + j]!) | (nibble(x[i0 + half + j]!) << 4);
    }
  }
}

/** Q8_0: w = d·q with q a signed byte. */
function dequantizeQ8_0(src: Uint8Array, n: number): Float32Array {
  const table = halfTable();
  const out = new Float32Array(n);
  const { bytes } = STORED.q8_0;
  for (let b = 0; b < n / QK; b++) {
    const o = b * bytes;
    const d = table[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * ((src[o + 2 + j]! << 24) >> 24);
  }
  return out;
}

/** Q4_0: w = d·(q − 8); byte j holds element j (low nibble) and j+16 (high nibble). */
function dequantizeQ4_0(src: Uint8Array, n: number): Float32Array {
  const table = halfTable();
  const out = new Float32Array(n);
  const { bytes } = STORED.q4_0;
  for (let b = 0; b < n / QK; b++) {
    const o = b * bytes;
    const i = b * QK;
    const d = table[src[o]! | (src[o + 1]! << 8)]!;
    for (let j = 0; j < QK / 2; j++) {
      const q = src[o + 2 + j]!;
      out[i + j] = d * ((q & 0x0f) - 8);
      out[i + j + QK / 2] = d * ((q >> 4) - 8);
    }
  }
  return out;
}
