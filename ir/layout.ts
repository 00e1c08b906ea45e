// Weight layouts: how a weight's elements are ordered (and encoded) in the weights region.
//
//   rows         row-major [N, K] f32, as the graph declares it
//   panels(L)    f32, for a matrix [N, K]: ceil(N / L) panels, each K × L with the L rows of
//                the panel interleaved: packed[p][k][l] = w[p·L + l][k] (zero past row N).
//                A vector load at packed[p][k] gives column k of L consecutive rows, so a
//                matmul broadcasts x[t, k] and accumulates L outputs per FMA, with no
//                horizontal sum; rows can still be gathered (embedding lookup).
//   heads(S, L)  for a KV cache [N positions, K = H·S]: head-major, each head's S columns
//                in panels of L positions: packed[h][p / L][c][p mod L] = x[p][h·S + c].
//                One head's positions are contiguous (attention streams them in one run),
//                and with L > 1 a vector load is column c of L consecutive positions.
//   f16(L)       panels(L) with every element an IEEE half: half the bytes.
//   q8_0(L)      ggml's q8_0 blocks (32 int8 + an f16 scale per row and block of 32 columns),
//   q4_0(L)      or q4_0 blocks (32 nibbles + an f16 scale), row-interleaved by panels of L.
//
// A quantized panel (K = 32·B columns) is B·L f16 scales, block-major (scale of row l in
// block b at half index b·L + l), padded to 64 bytes, then the B blocks of quants, each
// 4·L bytes per group of 4 columns, row l's 4 bytes at 4·l (one 32-bit lane per row):
//   q8_0  8 groups; group g, row l: q[l][4g .. 4g+3]                 (int8)
//   q4_0  4 groups; group g, row l, byte j: q[l][4g+j] | q[l][16+4g+j] << 4   (unsigned
//         nibbles; the value is d·(q − 8) as in ggml)
// So one vector load of 4·L bytes holds 4 columns of L rows — one dot-product-accumulate
// instruction (vpdpbusd: 4 bytes per 32-bit lane) serves L outputs — and panels stay
// 64-byte aligned. Sizes are counted in f32 words (4 bytes); every layout is a whole number.

import { InternalError, assertNever } from './diagnostics.js';
import { QK, STORED, encode } from './quant.js';

export type QuantKind = 'q8_0' | 'q4_0';

/** The per-weight encodings a quantization policy may pick. */
export type WeightDType = 'f32' | 'f16' | QuantKind;
/** A policy: one encoding for every weight, or `mixed` (passes/layout.ts says which). */
export type QuantPolicy = WeightDType | 'mixed';
export const QUANT_POLICIES: readonly QuantPolicy[] = ['f32', 'f16', 'q8_0', 'q4_0', 'mixed'];
export const WEIGHT_DTYPES: readonly WeightDType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export type Layout =
  | { kind: 'rows' }
  | { kind: 'panels'; lanes: number }
  | { kind: 'heads'; size: number; lanes: number }
  | { kind: 'f16'; lanes: number }
  | { kind: QuantKind; lanes: number };

export const ROWS: Layout = { kind: 'rows' };

export function formatLayout(layout: Layout): string {
  switch (layout.kind) {
    case 'rows': return 'rows';
    case 'panels': return `panels${layout.lanes}`;
    case 'heads': return `heads${layout.size}x${layout.lanes}`;
    default: return `${layout.kind}x${layout.lanes}`;
  }
}

/** Where element (row, col) of a [·, k] f32 matrix sits in `layout` (for n rows). */
export function layoutIndex(layout: Layout, n: number, k: number, row: number,
  col: number): number {
  switch (layout.kind) {
    case 'rows': return row * k + col;
    case 'panels': {
      const l = layout.lanes;
      return Math.floor(row / l) * k * l + col * l + (row % l);
    }
    case 'heads': {
      const { size, lanes } = layout;
      const panels = Math.ceil(n / lanes);
      const head = Math.floor(col / size);
      return ((head * panels + Math.floor(row / lanes)) * size + (col % size)) * lanes +
        (row % lanes);
    }
    default:
      throw new InternalError('layout', `no f32 element index in ${formatLayout(layout)}`);
  }
}

export const isQuantized = (layout: Layout | undefined): layout is { kind: QuantKind;
  lanes: number } => layout?.kind === 'q8_0' || layout?.kind === 'q4_0';

/** Bytes of one block's quants for L rows. */
export const quantBytes = (kind: QuantKind, lanes: number): number =>
  (kind === 'q8_0' ? QK : QK / 2) * lanes;

/** Bytes of a quantized panel's scale area (B·L halves, padded to 64 bytes). */
export const scaleBytes = (lanes: number, k: number): number =>
  Math.ceil((k / QK) * lanes * 2 / 64) * 64;

/** Bytes of one panel of a [·, k] matrix. */
export function panelBytes(layout: Layout, k: number): number {
  switch (layout.kind) {
    case 'rows': throw new InternalError('layout', 'rows have no panels');
    case 'panels':
    case 'heads': return k * layout.lanes * 4; // heads: L positions of every head
    case 'f16': return k * layout.lanes * 2;
    case 'q8_0':
    case 'q4_0': return scaleBytes(layout.lanes, k) + (k / QK) * quantBytes(layout.kind,
      layout.lanes);
    default: return assertNever(layout, 'layout');
  }
}

/** f32 words a [n, k] matrix takes in `layout`. */
export function layoutSize(layout: Layout, n: number, k: number): number {
  if (layout.kind === 'rows') return n * k;
  return Math.ceil(Math.ceil(n / layout.lanes) * panelBytes(layout, k) / 4);
}

/** Reorders row-major [n, k] f32 data into `layout` (quantizing as ggml does). */
export function pack(data: Float32Array, layout: Layout, n: number, k: number): Float32Array {
  switch (layout.kind) {
    case 'rows': return data;
    case 'panels': return packPanels(data, layout.lanes, n, k);
    case 'heads': {
      const out = new Float32Array(layoutSize(layout, n, k));
      for (let row = 0; row < n; row++) {
        for (let i = 0; i < k; i++) out[layoutIndex(layout, n, k, row, i)] = data[row * k + i]!;
      }
      return out;
    }
    case 'f16':
    case 'q8_0':
    case 'q4_0': return words(packEncoded(encode(layout.kind, data), layout, n, k));
    default: return assertNever(layout, 'layout');
  }
}

function words(bytes: Uint8Array): Float32Array {
  if (bytes.byteOffset % 4 !== 0 || bytes.length % 4 !== 0) {
    throw new InternalError('layout', `${bytes.length} packed bytes are not whole words`);
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

function packPanels(data: Float32Array, lanes: number, n: number, k: number): Float32Array {
  const out = new Float32Array(layoutSize({ kind: 'panels', lanes }, n, k));
  for (let row = 0; row < n; row++) {
    const base = Math.floor(row / lanes) * k * lanes + (row % lanes);
    for (let i = 0; i < k; i++) out[base + i * lanes] = data[row * k + i]!;
  }
  return out;
}

/**
 * Reorders row-major data already encoded as ggml does (f16 halves, or q8_0 / q4_0 blocks,
 * as a GGUF file stores them) into `layout` of the same encoding: no decoding, so a
 * quantized checkpoint loads bit for bit.
 */
export function packEncoded(src: Uint8Array, layout: Layout, n: number, k: number): Uint8Array {
  if (layout.kind === 'rows' || layout.kind === 'panels' || layout.kind === 'heads') {
    throw new InternalError('layout', `${formatLayout(layout)} holds f32, not encoded blocks`);
  }
  const lanes = layout.lanes;
  const out = new Uint8Array(layoutSize(layout, n, k) * 4);
  const panel = panelBytes(layout, k);
  if (layout.kind === 'f16') {
    for (let row = 0; row < n; row++) {
      const base = Math.floor(row / lanes) * panel + (row % lanes) * 2;
      for (let i = 0; i < k; i++) {
        out[base + i * lanes * 2] = src[(row * k + i) * 2]!;
        out[base + i * lanes * 2 + 1] = src[(row * k + i) * 2 + 1]!;
      }
    }
    return out;
  }
  const blocks = k / QK;
  const { bytes: blockBytes } = STORED[layout.kind];
  const scales = scaleBytes(lanes, k);
  const qb = quantBytes(layout.kind, lanes);
  for (let row = 0; row < n; row++) {
    const p = Math.floor(row / lanes) * panel;
    const l = row % lanes;
    for (let b = 0; b < blocks; b++) {
      const at = (row * blocks + b) * blockBytes;
      out[p + (b * lanes + l) * 2] = src[at]!;
      out[p + (b * lanes + l) * 2 + 1] = src[at + 1]!;
      const q = p + scales + b * qb;
      if (layout.kind === 'q8_0') {
        for (let j = 0; j < QK; j++) {
          out[q + (j >> 2) * 4 * lanes + 4 * l + (j & 3)] = src[at + 2 + j]!;
        }
      } else {
        for (let j = 0; j < QK; j++) {
          const nib = j < 16 ? src[at + 2 + j]! & 15 : src[at + 2 + j - 16]! >> 4;
          const g = (j & 15) >> 2;
          const at4 = q + g * 4 * lanes + 4 * l + (j & 3);
          out[at4] = out[at4]! | (j < 16 ? nib : nib << 4);
        }
      }
    }
  }
  return out;
}
