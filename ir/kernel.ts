// Kernel IR: loop nests over buffers, the form every backend renders.
//
// A kernel is a function of buffer pointers and two step scalars — `n` (tokens in this
// step) and `pos` (position of the first one). Its body is statements: loops (possibly
// parallel: iterations are independent and each is computed by one thread, so results do
// not depend on the thread count), typed locals, stores. Vector values have `lanes` > 1;
// `load`/`store` of a vector read/write that many consecutive elements, `splat` broadcasts
// a scalar and `hsum` adds the lanes in a fixed order. Reductions are always written out
// explicitly in this order, never left to a compiler's reassociation.
//
// Index arithmetic is i32; float arithmetic is f32 unless a local is declared f64.
//
// Quantized weights (ir/layout.ts) live in byte buffers (`u8` params: every index into
// one counts bytes). Three expressions read them, each rendered by every backend with the
// target's own instructions:
//   half   L f16 values → an f32 vector (scales, f16 weights)
//   qdot   one 32-column block of L interleaved rows dotted with 32 int8 activations →
//          an i32 vector, exactly Σ q·x (q8_0: q; q4_0: nibble − 8). `xsum` must be Σ x
//          over the block: a backend may use it (vpdpbusd multiplies unsigned by signed
//          bytes, so it adds 128 or 8 to the weights and takes 128·Σx or 8·Σx off again)
//   qvalue element j of such a block for L rows, as f32 (q or nibble − 8): the float path
// A `view` gives a typed name to part of a buffer (the int8 activations in scratch).

import type { Layout, QuantKind } from './layout.js';

export type ScalarType = 'f32' | 'f64' | 'i32';
/** What a buffer holds: f32, i32, signed or unsigned bytes. */
export type ElemType = 'f32' | 'i32' | 'i8' | 'u8';

/** `max`/`min` compare floats; `imin` compares i32 (loop bounds); `&`, `>>` are i32. */
export type BinOp = '+' | '-' | '*' | '/' | '%' | 'max' | 'min' | 'imin' | '&' | '>>';
/** `abs` is f32 |x|; `round` rounds an f32 to the nearest integer, ties to even (rint). */
export type MathFn = 'exp' | 'sqrt' | 'cos' | 'sin' | 'pow' | 'abs' | 'round';

/**
 * `exp` of a vector, the same steps in every backend (Cephes' expf): clamp x to
 * [low, high], n = round(x·log2e), r = (x − n·ln2Hi) + n·ln2Lo, p = 1 + r + r²·P(r) with P's
 * coefficients from the highest power down, result p·2ⁿ built in the exponent bits; 0 where
 * x < low (exp(−∞) included).
 */
export const VECTOR_EXP = {
  low: -87.336544, high: 88.02, log2e: 1.44269504, ln2Hi: 0.693359375, ln2Lo: 2.12194440e-4,
  poly: [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1],
} as const;

export type KExpr =
  | { k: 'int'; value: number }
  | { k: 'float'; value: number }
  | { k: 'var'; name: string }
  | { k: 'bin'; op: BinOp; a: KExpr; b: KExpr }
  | { k: 'call'; fn: MathFn; args: KExpr[] }
  | { k: 'load'; buf: string; index: KExpr; lanes: number }
  | { k: 'splat'; value: KExpr; lanes: number }
  | { k: 'hsum'; value: KExpr; lanes: number }
  | { k: 'lane'; value: KExpr; index: number }
  /** Converts as C does; with `lanes`, a vector (i32 → f32). */
  | { k: 'cast'; to: ScalarType; value: KExpr; lanes?: number }
  | { k: 'half'; buf: string; index: KExpr; lanes: number }
  | { k: 'qdot'; kind: QuantKind; lanes: number; w: string; wAt: KExpr; x: string;
    xAt: KExpr; xsum: KExpr }
  | { k: 'qvalue'; kind: QuantKind; lanes: number; w: string; at: KExpr; j: number };

export type KStmt =
  | {
    k: 'for';
    var: string;
    from: KExpr;
    to: KExpr;
    step: number;
    /** Iterations are independent and may run on different threads. */
    parallel?: boolean;
    body: KStmt[];
  }
  | { k: 'let'; name: string; type: ScalarType; lanes: number; value: KExpr }
  | { k: 'set'; name: string; value: KExpr }
  | { k: 'store'; buf: string; index: KExpr; value: KExpr; lanes: number }
  /** A local f32 array (per thread, zeroed when asked), addressed like a buffer. */
  | { k: 'array'; name: string; size: number; zero: boolean }
  /** A branch on step scalars; at a kernel's top level, its arms may hold parallel loops. */
  | { k: 'if'; cond: { a: KExpr; op: '<' | '<=' | '>=' | '=='; b: KExpr }; then: KStmt[];
    else?: KStmt[] }
  | { k: 'comment'; text: string }
  /**
   * A hint: the cache line holding buf[index] will be read soon; no effect on results. C
   * renders a prefetch instruction, WebAssembly (which has none) a load whose value is
   * dropped: it stalls like any load, but it starts the line's fetch and the hardware
   * prefetcher's stream early.
   */
  | { k: 'prefetch'; buf: string; index: KExpr }
  /** `name` reads `buf` from element `offset` on, as `type` (computed by every thread). */
  | { k: 'view'; name: string; buf: string; offset: KExpr; type: ElemType };

export interface KernelParam {
  name: string;
  type: 'f32' | 'i32' | 'u8';
  /** Written by the kernel (otherwise read-only). */
  out: boolean;
}

export interface Kernel {
  /** Unique within a program; equal kernels are shared by every node that needs them. */
  name: string;
  /** One line saying what the kernel computes, in graph-IR notation. */
  doc: string;
  params: KernelParam[];
  /** The output is the node's first operand, updated in place (kv_write). */
  inPlace?: boolean;
  /**
   * f32 elements of scratch the kernel needs across its parallel loops (split-KV partials);
   * the last param is then `scratch`, placed in the arena by lowering.
   */
  scratch?: number;
  body: KStmt[];
}

/** Where a buffer argument lives: a region and an offset in f32 elements (4-byte words). */
export type Region = 'weights' | 'states' | 'arena' | 'tokens' | 'logits';

export interface BufferRef {
  region: Region;
  offset: number;
}

/** One kernel call of the forward step. */
export interface KernelCall {
  kernel: string;
  args: BufferRef[];
  /** Graph node this call computes, for timings and comments. */
  node: number;
}

export interface ProgramWeight {
  name: string;
  offset: number;
  layout: Layout;
  shape: number[];
  /** Multiply column k by this weight's element k before packing (a folded norm gain). */
  foldGain?: string;
}

/** A whole forward step: the kernels, their calls in order, and the memory plan. */
export interface KernelProgram {
  kernels: Kernel[];
  calls: KernelCall[];
  /** Region sizes in f32 elements (tokens and logits are given by the caller). */
  sizes: { weights: number; states: number; arena: number };
  /** Where each weight leaf goes in the weights region (f32 elements), in which layout. */
  weights: ProgramWeight[];
  /** The most tokens one step may take; the arena is planned for it. */
  maxTokens: number;
  vocab: number;
  /** The machine the kernels were lowered for (renderers pick instructions by it). */
  isa: { target: 'avx512' | 'avx2' | 'scalar' | 'wasm'; vnni: boolean };
}

// Builders, so that lowering code reads close to the loops it produces.

export const int = (value: number): KExpr => ({ k: 'int', value });
export const float = (value: number): KExpr => ({ k: 'float', value });
export const v = (name: string): KExpr => ({ k: 'var', name });
const isInt = (e: KExpr, value?: number) =>
  e.k === 'int' && (value === undefined || e.value === value);

/** Folds integer constants and x+0, x*1, x*0, x/1, x%1, so rendered loops stay readable. */
function fold(op: BinOp, a: KExpr, b: KExpr): KExpr {
  if (a.k === 'int' && b.k === 'int' && op !== '/' && op !== '%') {
    const x = a.value;
    const y = b.value;
    const value = op === '+' ? x + y : op === '-' ? x - y : op === '*' ? x * y
      : op === '&' ? x & y : op === '>>' ? x >> y
      : op === 'max' ? Math.max(x, y) : Math.min(x, y); // min and imin alike
    return int(value);
  }
  if ((op === '+' || op === '-') && isInt(b, 0)) return a;
  if (op === '+' && isInt(a, 0)) return b;
  if (op === '*' && (isInt(a, 0) || isInt(b, 0))) return int(0);
  if ((op === '*' || op === '/') && isInt(b, 1)) return a;
  if (op === '%' && isInt(b, 1)) return int(0);
  if (op === '*' && isInt(a, 1)) return b;
  return { k: 'bin', op, a, b };
}

const bin = (op: BinOp) => (a: KExpr | number, b: KExpr | number): KExpr =>
  fold(op, typeof a === 'number' ? int(a) : a, typeof b === 'number' ? int(b) : b);
export const add = bin('+');
export const sub = bin('-');
export const mul = bin('*');
export const div = bin('/');
export const mod = bin('%');
export const max = bin('max');
export const band = bin('&');
export const shr = bin('>>');
export const imin = bin('imin');
export const call = (fn: MathFn, ...args: KExpr[]): KExpr => ({ k: 'call', fn, args });
export const load = (buf: string, index: KExpr, lanes = 1): KExpr =>
  ({ k: 'load', buf, index, lanes });
export const splat = (value: KExpr, lanes: number): KExpr => ({ k: 'splat', value, lanes });
export const hsum = (value: KExpr, lanes: number): KExpr => ({ k: 'hsum', value, lanes });
export const lane = (value: KExpr, index: number): KExpr => ({ k: 'lane', value, index });
export const when = (a: KExpr, op: '<' | '<=' | '>=' | '==', b: KExpr, then: KStmt[],
  otherwise?: KStmt[]): KStmt => ({ k: 'if', cond: { a, op, b }, then,
  ...(otherwise ? { else: otherwise } : {}) });

export function loop(name: string, from: KExpr | number, to: KExpr | number, body: KStmt[],
  options: { step?: number; parallel?: boolean } = {}): KStmt {
  return {
    k: 'for', var: name, from: typeof from === 'number' ? int(from) : from,
    to: typeof to === 'number' ? int(to) : to, step: options.step ?? 1,
    ...(options.parallel ? { parallel: true } : {}), body,
  };
}

export const local = (name: string, value: KExpr, type: ScalarType = 'f32', lanes = 1): KStmt =>
  ({ k: 'let', name, type, lanes, value });
export const set = (name: string, value: KExpr): KStmt => ({ k: 'set', name, value });
export const store = (buf: string, index: KExpr, value: KExpr, lanes = 1): KStmt =>
  ({ k: 'store', buf, index, value, lanes });

/** Bytes in a cache line, the step of a prefetch loop. */
export const CACHE_LINE = 64;

/** Prefetches f32 elements buf[from .. from + count), one statement per cache line. */
export const prefetch = (buf: string, from: KExpr, count: KExpr, index: string): KStmt =>
  loop(index, 0, count, [{ k: 'prefetch', buf, index: add(from, v(index)) }],
    { step: CACHE_LINE / 4 });
