// The one file of smelt that touches Binaryen: typed helpers over its module builder, the
// ordered optimizer pass list, and loading (Binaryen is a 10 MB Emscripten module whose
// import costs about half a second, so it is imported on first use, never by a warm run
// whose module comes from the cache).
//
// Invariants the helpers keep:
// - An expression node is used in exactly one place. Binaryen's validator accepts a node
//   reused in two places, but its optimizer then corrupts memory; callers build a fresh
//   node for every use (locals hold values needed twice).
// - Features: SIMD128, non-trapping float-to-int, bulk memory (memory.fill), mutable
//   globals; with threads also atomics and a shared imported memory.

import type Binaryen from 'binaryen';
import { createRequire } from 'node:module';
import { InternalError } from '../../ir/diagnostics.js';

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';
/** A Binaryen expression reference: use it once. */
export type Expr = number;
export type Arith = 'add' | 'sub' | 'mul' | 'div' | 'rem' | 'min' | 'max';
export type Compare = 'lt' | 'le' | 'ge' | 'eq' | 'ne';

/**
 * Optimizer passes, in order, each with why it is there. V8 optimizes every hot function
 * again (TurboFan: constant folding, instruction selection, register allocation, unrolling),
 * and measured on SmolLM-135M the module runs as fast unoptimized as after this list or
 * `-O2`/`-O3`, which cost 0.5–0.7 s against this list's 0.1–0.2 s (docs/wasm.md). So the
 * list is cleanup that makes the module smaller and easier on V8's baseline tier (Liftoff,
 * which runs the first calls and spills every local it cannot keep in a register).
 * `precompute` is left out: it grew the module (it materializes constants) for no speed.
 */
export const PASSES: readonly (readonly [pass: string, why: string])[] = [
  ['optimize-instructions', 'peepholes: x*2^k → x<<k, x+0, constant-offset folding'],
  ['simplify-locals-nostructure', 'sinks single-use temporaries into their one use'],
  ['vacuum', 'drops the nops and empty blocks the renderer leaves (comments, empty arms)'],
  ['merge-blocks', 'flattens the nested blocks of the IR\'s statement lists'],
  ['remove-unused-brs', 'shortest form for loop-closing branches'],
  ['remove-unused-names', 'removes labels nothing branches to'],
  ['coalesce-locals', 'one local per IR declaration → far fewer locals for Liftoff to spill'],
  ['reorder-locals', 'most-used locals first, dead ones dropped: smaller code'],
];

let binaryen: typeof Binaryen | undefined;

/** Imports Binaryen once per process. */
export async function loadBinaryen(): Promise<void> {
  binaryen ??= (await import('binaryen')).default;
}

/** The Binaryen package version, for cache keys (no import of Binaryen needed). */
export function binaryenVersion(): string {
  return (createRequire(import.meta.url)('binaryen/package.json') as { version: string }).version;
}

function lib(): typeof Binaryen {
  if (!binaryen) throw new InternalError('wasm module', 'loadBinaryen() was not awaited');
  return binaryen;
}

export class WasmModule {
  private readonly b = lib();
  private readonly m = new this.b.Module();
  private readonly types: Record<ValType, number>;

  constructor(readonly threads: boolean) {
    const F = this.b.Features;
    this.m.setFeatures(F.MVP | F.SIMD128 | F.NontrappingFPToInt | F.BulkMemory | F.BulkMemoryOpt |
      F.MutableGlobals |
      F.SignExt | (threads ? F.Atomics : 0));
    this.types = { i32: this.b.i32, f32: this.b.f32, f64: this.b.f64, v128: this.b.v128 };
  }

  type(t: ValType | 'none'): number {
    return t === 'none' ? this.b.none : this.types[t];
  }

  // constants, locals, globals

  i32(value: number): Expr {
    return this.m.i32.const(value | 0);
  }

  f32(value: number): Expr {
    return this.m.f32.const(Math.fround(value));
  }

  f64(value: number): Expr {
    return this.m.f64.const(value);
  }

  get(index: number, t: ValType): Expr {
    return this.m.local.get(index, this.types[t]);
  }

  set(index: number, value: Expr): Expr {
    return this.m.local.set(index, value);
  }

  tee(index: number, value: Expr, t: ValType): Expr {
    return this.m.local.tee(index, value, this.types[t]);
  }

  global(name: string): Expr {
    return this.m.global.get(name, this.b.i32);
  }

  // arithmetic

  arith(op: Arith, t: ValType, a: Expr, b: Expr): Expr {
    const m = this.m;
    if (t === 'i32') {
      if (op === 'min' || op === 'max') throw new InternalError('wasm module', `i32 ${op}`);
      const ops = { add: m.i32.add, sub: m.i32.sub, mul: m.i32.mul, div: m.i32.div_s,
        rem: m.i32.rem_s };
      return ops[op](a, b);
    }
    if (op === 'rem') throw new InternalError('wasm module', `${t} remainder`);
    const ns = t === 'f32' ? m.f32 : t === 'f64' ? m.f64 : m.f32x4;
    return ns[op](a, b);
  }

  compare(op: Compare, t: Exclude<ValType, 'v128'>, a: Expr, b: Expr): Expr {
    if (t === 'i32') {
      const i = this.m.i32;
      return { lt: i.lt_s, le: i.le_s, ge: i.ge_s, eq: i.eq, ne: i.ne }[op](a, b);
    }
    const f = t === 'f32' ? this.m.f32 : this.m.f64;
    return f[op](a, b);
  }

  select(cond: Expr, a: Expr, b: Expr): Expr {
    return this.m.select(cond, a, b);
  }

  sqrt(t: ValType, value: Expr): Expr {
    if (t === 'i32') throw new InternalError('wasm module', 'i32 sqrt');
    return (t === 'f32' ? this.m.f32 : t === 'f64' ? this.m.f64 : this.m.f32x4).sqrt(value);
  }

  /** C's conversions: int → float, float ↔ double, float → int (saturating), splat. */
  convert(value: Expr, from: ValType, to: ValType): Expr {
    const m = this.m;
    if (from === to) return value;
    if (to === 'v128') return m.f32x4.splat(this.convert(value, from, 'f32'));
    if (from === 'v128') throw new InternalError('wasm module', `vector used as ${to}`);
    if (to === 'i32') {
      return from === 'f32' ? m.i32.trunc_s_sat.f32(value) : m.i32.trunc_s_sat.f64(value);
    }
    if (to === 'f32') return from === 'i32' ? m.f32.convert_s.i32(value) : m.f32.demote(value);
    return from === 'i32' ? m.f64.convert_s.i32(value) : m.f64.promote(value);
  }

  // memory: unaligned accesses are allowed (alignment hint 4: an f32's natural one)

  load(t: 'i32' | 'f32' | 'v128', ptr: Expr, offset: number): Expr {
    const ns = t === 'i32' ? this.m.i32 : t === 'f32' ? this.m.f32 : this.m.v128;
    return ns.load(offset, 4, ptr);
  }

  store(t: 'i32' | 'f32' | 'v128', ptr: Expr, offset: number, value: Expr): Expr {
    const ns = t === 'i32' ? this.m.i32 : t === 'f32' ? this.m.f32 : this.m.v128;
    return ns.store(offset, 4, ptr, value);
  }

  /** v128.load32_splat: an f32 from memory broadcast to every lane. */
  loadSplat(ptr: Expr, offset: number): Expr {
    return this.m.v128.load32_splat(offset, 4, ptr);
  }

  fill(dest: Expr, bytes: Expr): Expr {
    return this.m.memory.fill(dest, this.m.i32.const(0), bytes);
  }

  // integers and bytes (quantized weights)

  /** i32 `&` and arithmetic `>>`. */
  bits(op: 'and' | 'shr', a: Expr, b: Expr): Expr {
    return op === 'and' ? this.m.i32.and(a, b) : this.m.i32.shr_s(a, b);
  }

  /** f32 |x| and rounding to nearest even (scalar or f32x4). */
  unary(op: 'abs' | 'nearest', t: 'f32' | 'v128', value: Expr): Expr {
    return (t === 'f32' ? this.m.f32 : this.m.f32x4)[op](value);
  }

  /** A byte (sign- or zero-extended) or an unsigned 16-bit half from memory, as an i32. */
  loadSmall(kind: 'i8' | 'u8' | 'u16', ptr: Expr, offset: number): Expr {
    const i = this.m.i32;
    if (kind === 'u16') return i.load16_u(offset, 1, ptr);
    return kind === 'i8' ? i.load8_s(offset, 1, ptr) : i.load8_u(offset, 1, ptr);
  }

  store8(ptr: Expr, offset: number, value: Expr): Expr {
    return this.m.i32.store8(offset, 1, ptr, value);
  }

  /** Four u16 from memory, zero-extended to i32x4. */
  load16x4(ptr: Expr, offset: number): Expr {
    return this.m.v128.load16x4_u(offset, 1, ptr);
  }

  /** The f32 whose bits are the i32 `value`. */
  fromBits(value: Expr): Expr {
    return this.m.f32.reinterpret(value);
  }

  /** `magnitude` with the sign bit of the i32 `bits`. */
  copysign(magnitude: Expr, bits: Expr): Expr {
    return this.m.f32.copysign(magnitude, this.m.f32.reinterpret(bits));
  }

  /** i16x8 from the low or high 8 bytes of an i8x16, sign- or zero-extended. */
  widen(value: Expr, half: 'low' | 'high', signed: boolean): Expr {
    const i = this.m.i16x8;
    if (half === 'low') return signed ? i.extend_low_i8x16_s(value) : i.extend_low_i8x16_u(value);
    return signed ? i.extend_high_i8x16_s(value) : i.extend_high_i8x16_u(value);
  }

  /** i32x4.dot_i16x8_s: lane i = a[2i]·b[2i] + a[2i+1]·b[2i+1]. */
  dot16(a: Expr, b: Expr): Expr {
    return this.m.i32x4.dot_i16x8_s(a, b);
  }

  /** i32x4 lane-wise ops (shift counts are i32 scalars); `shr_u8` shifts each byte. */
  ivec(op: 'add' | 'sub' | 'and' | 'or' | 'shl' | 'shr_s' | 'shr_u' | 'shr_u8', a: Expr,
    b: Expr): Expr {
    const m = this.m;
    switch (op) {
      case 'and': return m.v128.and(a, b);
      case 'or': return m.v128.or(a, b);
      case 'shr_u8': return m.i8x16.shr_u(a, b);
      default: return m.i32x4[op](a, b);
    }
  }

  splatI32(value: Expr): Expr {
    return this.m.i32x4.splat(value);
  }

  /** f32x4 from i32x4 (exact for |x| < 2^24). */
  convertI32x4(value: Expr): Expr {
    return this.m.f32x4.convert_i32x4_s(value);
  }

  // vectors of 4 f32

  lane(vec: Expr, index: number): Expr {
    return this.m.f32x4.extract_lane(vec, index);
  }

  replaceLane(vec: Expr, index: number, value: Expr): Expr {
    return this.m.f32x4.replace_lane(vec, index, value);
  }

  /** f32 lanes picked from a (0..3) and b (4..7). */
  shuffle(a: Expr, b: Expr, lanes: readonly number[]): Expr {
    return this.m.i8x16.shuffle(a, b, lanes.flatMap((l) => [0, 1, 2, 3].map((i) => l * 4 + i)));
  }

  /** f32x4.nearest: each lane rounded to the nearest integer, ties to even. */
  nearest(vec: Expr): Expr {
    return this.m.f32x4.nearest(vec);
  }

  /** The lanes' bits where `mask` (a lane-wise comparison) holds, else 0. */
  keepWhere(mask: Expr, vec: Expr): Expr {
    return this.m.v128.and(vec, mask);
  }

  /** f32x4.ge: all-ones lanes where a ≥ b. */
  vectorGe(a: Expr, b: Expr): Expr {
    return this.m.f32x4.ge(a, b);
  }

  /** Per lane, the f32 with exponent bits (n + 127) << 23: 2ⁿ for integral n in −126..127. */
  pow2(n: Expr): Expr {
    const m = this.m;
    return m.i32x4.shl(m.i32x4.add(m.i32x4.trunc_sat_f32x4_s(n), m.i32x4.splat(m.i32.const(127))),
      m.i32.const(23));
  }

  // control

  block(body: Expr[], label: string | null = null, result: ValType | 'none' = 'none'): Expr {
    return this.m.block(label, body, result === 'none' ? this.b.none : this.types[result]);
  }

  /** A block whose last expression is its value. */
  blockValue(body: Expr[], t: ValType): Expr {
    return this.m.block(null, body, this.types[t]);
  }

  loop(label: string, body: Expr): Expr {
    return this.m.loop(label, body);
  }

  brIf(label: string, cond: Expr): Expr {
    return this.m.br_if(label, cond);
  }

  br(label: string): Expr {
    return this.m.br(label);
  }

  when(cond: Expr, then: Expr, otherwise?: Expr): Expr {
    return this.m.if(cond, then, otherwise);
  }

  call(name: string, args: Expr[], result: ValType | 'none'): Expr {
    return this.m.call(name, args, this.type(result));
  }

  drop(value: Expr): Expr {
    return this.m.drop(value);
  }

  unreachable(): Expr {
    return this.m.unreachable();
  }

  // atomics on i32 words of the shared memory (threads only)

  atomicLoad(ptr: Expr): Expr {
    return this.m.i32.atomic.load(0, ptr);
  }

  atomicStore(ptr: Expr, value: Expr): Expr {
    return this.m.i32.atomic.store(0, ptr, value);
  }

  atomicAdd(ptr: Expr, value: Expr): Expr {
    return this.m.i32.atomic.rmw.add(0, ptr, value);
  }

  /**
   * memory.atomic.wait32 for at most 20 ms; yields 0 ok, 1 not-equal, 2 timed out. The
   * callers re-check and wait again, so a wake-up lost to a bug or a descheduled thread
   * costs a delay, never a hang.
   */
  wait(ptr: Expr, expected: Expr): Expr {
    return this.m.memory.atomic.wait32(ptr, expected, this.m.i64.const(20_000_000n));
  }

  notify(ptr: Expr, count: Expr): Expr {
    return this.m.memory.atomic.notify(ptr, count);
  }

  // module items

  importMemory(pages: number, shared: boolean): void {
    this.m.setMemory(pages, shared ? 65536 : -1, null, [], shared, false, 'memory');
    this.m.addMemoryImport('memory', 'env', 'memory', shared);
  }

  importGlobal(name: string): void {
    this.m.addGlobalImport(name, 'env', name, this.b.i32, false);
  }

  importFunction(name: string, params: ValType[], result: ValType): void {
    this.m.addFunctionImport(name, 'env', name, this.b.createType(params.map((t) => this.types[t])),
      this.types[result]);
  }

  addFunction(name: string, params: ValType[], vars: ValType[], body: Expr,
    result: ValType | 'none' = 'none'): void {
    this.m.addFunction(name, this.b.createType(params.map((t) => this.types[t])),
      result === 'none' ? this.b.none : this.types[result], vars.map((t) => this.types[t]), body);
  }

  exportFunction(name: string): void {
    this.m.addFunctionExport(name, name);
  }

  // finishing

  validate(): void {
    if (!this.m.validate()) {
      throw new InternalError('wasm render', 'Binaryen rejected the generated module ' +
        '(its validation errors are on stderr)');
    }
  }

  optimize(): void {
    this.b.setOptimizeLevel(2);
    this.b.setShrinkLevel(0);
    this.m.runPasses(PASSES.map(([pass]) => pass));
  }

  /** The binary, with a name section (kernel names in stack traces and in the text form). */
  emitBinary(): Uint8Array {
    this.b.setDebugInfo(true);
    return this.m.emitBinary();
  }

  emitText(): string {
    return this.m.emitText();
  }

  dispose(): void {
    this.m.dispose();
  }
}
