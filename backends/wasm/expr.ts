// Kernel-IR expressions → Binaryen expressions, with their types and addresses.
//
// Types follow C's usual arithmetic conversions, so that the wasm module computes what the
// C backend does: an int literal or i32 mixed with f32 becomes f32, f32 with f64 becomes
// f64, a scalar with a vector is broadcast (lanes = 4 → v128, f32x4). Float literals are
// f32 (C's `1.5f`), widened exactly when they meet an f64. Math follows the C names: `exp`
// and `sqrt` are f32 (expf, sqrtf), `cos`, `sin` and `pow` are f64. sqrt is an instruction;
// the others are imported from JavaScript (Math.*), a call out of wasm each (see docs),
// except exp of a vector: the module's own `exp4` (vmath.ts), as C's `vexp`.
//
// Addresses: an index expression is split into a sum of terms (coefficient × atom) plus a
// constant. A non-negative constant becomes the load's immediate offset. Terms invariant in
// the innermost loop (their variables are bound outside it and not assigned in it, no memory
// read) are added to the buffer address once, before the loop, in a hoisted local shared by
// every access with the same invariant part: V8 does not hoist them itself.

import { InternalError, assertNever } from '../../ir/diagnostics.js';
import type { BinOp, ElemType, KExpr } from '../../ir/kernel.js';
import type { FunctionContext } from './context.js';
import { readsOf } from './context.js';
import type { Arith, Expr, ValType } from './module.js';

/** The wasm type of a vector of `lanes` f32 (only 4: a v128). */
export function vector(lanes: number): 'v128' {
  if (lanes !== 4) throw new InternalError('wasm render', `vectors of ${lanes} lanes (wasm has 4)`);
  return 'v128';
}

const RANK: Record<ValType, number> = { i32: 0, f32: 1, f64: 2, v128: 3 };
const unify = (a: ValType, b: ValType): ValType => (RANK[a] >= RANK[b] ? a : b);

/** Math functions: argument and result type of the scalar form. */
const MATH = { exp: 'f32', sqrt: 'f32', cos: 'f64', sin: 'f64', pow: 'f64', abs: 'f32',
  round: 'f32' } as const;

/** Bytes per element of a buffer. */
export const ELEM_BYTES: Record<ElemType, number> = { f32: 4, i32: 4, i8: 1, u8: 1 };
/** The wasm type a scalar element is read as. */
const ELEM_VALUE: Record<ElemType, 'f32' | 'i32'> = { f32: 'f32', i32: 'i32', i8: 'i32',
  u8: 'i32' };

export function typeOf(ctx: FunctionContext, e: KExpr): ValType {
  switch (e.k) {
    case 'int': return 'i32';
    case 'float': return 'f32';
    case 'var': return ctx.variable(e.name).type;
    case 'bin': return unify(typeOf(ctx, e.a), typeOf(ctx, e.b));
    case 'call': return e.args.some((a) => typeOf(ctx, a) === 'v128') ? 'v128' : MATH[e.fn];
    case 'load': return e.lanes === 1 ? ELEM_VALUE[ctx.buffer(e.buf).elem] : vector(e.lanes);
    case 'splat': return e.lanes === 1 ? typeOf(ctx, e.value) : vector(e.lanes);
    case 'hsum': return e.lanes === 1 ? typeOf(ctx, e.value) : 'f32';
    case 'lane': return 'f32';
    case 'cast': return e.lanes !== undefined && e.lanes > 1 ? vector(e.lanes) : e.to;
    case 'half': return e.lanes === 1 ? 'f32' : vector(e.lanes);
    case 'qdot': return vector(e.lanes);
    case 'qvalue': return vector(e.lanes);
    default: return assertNever(e, 'kernel expression');
  }
}

/** `e` as a value of type `want` (its own type when absent), converted as C converts. */
export function emit(ctx: FunctionContext, e: KExpr, want?: ValType): Expr {
  const w = ctx.w;
  if (e.k === 'int' && want === 'f64') return w.f64(e.value);
  if (e.k === 'int' && want && want !== 'i32') return w.convert(w.f32(e.value), 'f32', want);
  if (e.k === 'float' && want === 'f64') return w.f64(Math.fround(e.value));
  const type = typeOf(ctx, e);
  const value = emitAs(ctx, e, type);
  return want ? w.convert(value, type, want) : value;
}

function emitAs(ctx: FunctionContext, e: KExpr, type: ValType): Expr {
  const w = ctx.w;
  switch (e.k) {
    case 'int': return w.i32(e.value);
    case 'float': return w.f32(e.value);
    case 'var': return w.get(ctx.variable(e.name).index, type);
    case 'bin': return binary(ctx, e.op, e.a, e.b, type);
    case 'call': return mathCall(ctx, e.fn, e.args, type);
    case 'load': {
      const { ptr, offset } = address(ctx, e.buf, e.index);
      const elem = ctx.buffer(e.buf).elem;
      if (elem === 'i8' || elem === 'u8') return w.loadSmall(elem, ptr, offset);
      return w.load(type as 'i32' | 'f32' | 'v128', ptr, offset);
    }
    case 'splat': {
      if (e.lanes === 1) return emit(ctx, e.value);
      const v = e.value;
      if (v.k === 'load' && v.lanes === 1 && ctx.buffer(v.buf).elem === 'f32') {
        const { ptr, offset } = address(ctx, v.buf, v.index);
        return w.loadSplat(ptr, offset);
      }
      return emit(ctx, v, 'v128');
    }
    case 'hsum': return e.lanes === 1 ? emit(ctx, e.value) : hsum4(ctx, emit(ctx, e.value, 'v128'));
    case 'lane': return w.lane(emit(ctx, e.value, 'v128'), e.index);
    case 'cast':
      if (e.lanes !== undefined && e.lanes > 1) return w.convertI32x4(emit(ctx, e.value, 'v128'));
      return emit(ctx, e.value, e.to);
    case 'half': return half(ctx, e);
    case 'qdot': return qdot(ctx, e);
    case 'qvalue': return qvalue(ctx, e);
    default: return assertNever(e, 'kernel expression');
  }
}

/** C's hsum4: (v0 + v2) + (v1 + v3), the same pairwise tree. */
function hsum4(ctx: FunctionContext, value: Expr): Expr {
  const w = ctx.w;
  const v = ctx.local('v128');
  const s = ctx.local('v128');
  const halves = w.arith('add', 'v128', w.tee(v, value, 'v128'),
    w.shuffle(w.get(v, 'v128'), w.get(v, 'v128'), [2, 3, 0, 1]));
  return w.arith('add', 'f32', w.lane(w.tee(s, halves, 'v128'), 0), w.lane(w.get(s, 'v128'), 1));
}

const ARITH: Readonly<Record<Exclude<BinOp, 'imin' | '&' | '>>'>, Arith>> = { '+': 'add',
  '-': 'sub',
  '*': 'mul', '/': 'div', '%': 'rem', max: 'max', min: 'min' };

function binary(ctx: FunctionContext, op: BinOp, a: KExpr, b: KExpr, type: ValType): Expr {
  const w = ctx.w;
  if (op === '&' || op === '>>') {
    if (type !== 'i32') throw new InternalError('wasm render', `${op} of ${type}`);
    return w.bits(op === '&' ? 'and' : 'shr', emit(ctx, a, 'i32'), emit(ctx, b, 'i32'));
  }
  // `a < b ? a : b` (imin, and i32 max/min, which wasm lacks): a select over two temporaries
  if (op === 'imin' || (type === 'i32' && (op === 'max' || op === 'min'))) {
    if (type === 'v128') throw new InternalError('wasm render', `vector ${op}`);
    const [x, y] = [ctx.local(type), ctx.local(type)];
    const pick = w.compare(op === 'max' ? 'ge' : 'lt', type, w.get(x, type), w.get(y, type));
    return w.select(pick, w.tee(x, emit(ctx, a, type), type), w.tee(y, emit(ctx, b, type), type));
  }
  return w.arith(ARITH[op], type, emit(ctx, a, type), emit(ctx, b, type));
}

function mathCall(ctx: FunctionContext, fn: keyof typeof MATH, args: KExpr[], type: ValType): Expr {
  const w = ctx.w;
  const scalar = MATH[fn];
  if (fn === 'sqrt') return w.sqrt(type, emit(ctx, args[0]!, type));
  if (fn === 'abs' || fn === 'round') {
    const t = type === 'v128' ? 'v128' : 'f32';
    return w.unary(fn === 'abs' ? 'abs' : 'nearest', t, emit(ctx, args[0]!, t));
  }
  if (type === 'v128' && fn === 'exp') return w.call('exp4', [emit(ctx, args[0]!, 'v128')], 'v128');
  if (type === 'v128') {
    // lane by lane
    if (args.length !== 1) throw new InternalError('wasm render', `vector ${fn} of ${args.length}`);
    const v = ctx.local('v128');
    let out = w.tee(v, emit(ctx, args[0]!, 'v128'), 'v128');
    for (let l = 0; l < 4; l++) {
      const x = w.convert(w.lane(w.get(v, 'v128'), l), 'f32', scalar);
      out = w.replaceLane(out, l, w.convert(w.call(fn, [w.convert(x, scalar, 'f64')], 'f64'),
        'f64', 'f32'));
    }
    return out;
  }
  // the import is f64 → f64 (Math.*); an f32 function rounds its result like expf
  const call = w.call(fn, args.map((a) => w.convert(emit(ctx, a, scalar), scalar, 'f64')), 'f64');
  return w.convert(call, 'f64', scalar);
}

/** The imports `mathCall` uses, with their arity. */
export const MATH_IMPORTS = { exp: 1, cos: 1, sin: 1, pow: 2 } as const;

// addresses

interface Term {
  atom: KExpr;
  coeff: number;
  key: string;
}

/** A unique key of `e` in the current scopes (names resolved to their locals). */
function keyOf(ctx: FunctionContext, e: KExpr): string {
  return JSON.stringify(e, (k, value: unknown) =>
    (k === 'name' && typeof value === 'string' ? `#${ctx.lookup(value).index}` : value));
}

/** index = Σ coeff·atom + constant, atoms being anything not linear in i32. */
function linearize(ctx: FunctionContext, e: KExpr, scale: number,
  terms: Map<string, Term>): number {
  if (e.k === 'int') return e.value * scale;
  if (e.k === 'bin' && (e.op === '+' || e.op === '-')) {
    return linearize(ctx, e.a, scale, terms) +
      linearize(ctx, e.b, e.op === '-' ? -scale : scale, terms);
  }
  if (e.k === 'bin' && e.op === '*' && (e.a.k === 'int' || e.b.k === 'int')) {
    const [c, rest] = e.a.k === 'int' ? [e.a.value, e.b] : [(e.b as { value: number }).value, e.a];
    return linearize(ctx, rest, scale * c, terms);
  }
  const key = keyOf(ctx, e);
  const seen = terms.get(key);
  if (seen) seen.coeff += scale;
  else terms.set(key, { atom: e, coeff: scale, key });
  return 0;
}

function invariant(ctx: FunctionContext, e: KExpr): boolean {
  const loop = ctx.loop!;
  const { names, memory } = readsOf(e);
  return !memory && names.every((n) => ctx.lookup(n).depth < loop.depth && !loop.assigned.has(n));
}

function sum(ctx: FunctionContext, start: Expr, terms: Term[], constant: number): Expr {
  const w = ctx.w;
  let out = start;
  for (const t of terms) {
    const atom = emit(ctx, t.atom, 'i32');
    const term = t.coeff === 1 ? atom : w.arith('mul', 'i32', atom, w.i32(t.coeff));
    out = w.arith('add', 'i32', out, term);
  }
  return constant === 0 ? out : w.arith('add', 'i32', out, w.i32(constant));
}

/** The byte address of element `index` of `buf`: a pointer expression and an offset. */
export function address(ctx: FunctionContext, buf: string, index: KExpr): { ptr: Expr;
  offset: number } {
  const w = ctx.w;
  const base = ctx.buffer(buf);
  const terms = new Map<string, Term>();
  const constant = linearize(ctx, index, ELEM_BYTES[base.elem], terms);
  const all = [...terms.values()].filter((t) => t.coeff !== 0);
  // an immediate offset must not hide a pointer that is "negative" before it is added
  const offset = constant >= 0 && all.every((t) => t.coeff > 0) ? constant : 0;
  const rest = constant - offset;
  // a buffer declared in this loop (a local array) has no address before it
  const loop = ctx.loop && base.depth < ctx.loop.depth ? ctx.loop : undefined;
  const fixed = loop ? all.filter((t) => invariant(ctx, t.atom)) : [];
  if (!loop || (fixed.length === 0 && rest === 0)) {
    return { ptr: sum(ctx, w.get(base.index, 'i32'), all, rest), offset };
  }
  const key = `${base.index}|${rest}|${fixed.map((t) => `${t.coeff}*${t.key}`).sort().join('+')}`;
  let hoisted = loop.hoisted.get(key);
  if (hoisted === undefined) {
    hoisted = ctx.local('i32');
    loop.pre.push(w.set(hoisted, sum(ctx, w.get(base.index, 'i32'), fixed, rest)));
    loop.hoisted.set(key, hoisted);
  }
  const moving = all.filter((t) => !fixed.includes(t));
  return { ptr: sum(ctx, w.get(hoisted, 'i32'), moving, 0), offset };
}

// quantized weights (see ir/layout.ts and backends/c/quant.ts for the C side)

type Quant<K extends string> = Extract<KExpr, { k: K }>;

/** A byte address held in a fresh local, so that it can be used many times. */
function pinned(ctx: FunctionContext, buf: string, index: KExpr): { get: () => Expr;
  set: Expr; offset: number } {
  const w = ctx.w;
  const { ptr, offset } = address(ctx, buf, index);
  const local = ctx.local('i32');
  return { get: () => w.get(local, 'i32'), set: w.set(local, ptr), offset };
}

/** f16 bits → f32: the 15 low bits moved up by 13 and scaled by 2^112, then the sign. */
function half(ctx: FunctionContext, e: Quant<'half'>): Expr {
  const w = ctx.w;
  const { ptr, offset } = address(ctx, e.buf, e.index);
  const h = ctx.local(e.lanes === 1 ? 'i32' : 'v128');
  if (e.lanes === 1) {
    const bits = w.bits('and', w.tee(h, w.loadSmall('u16', ptr, offset), 'i32'), w.i32(0x7fff));
    const magnitude = w.arith('mul', 'f32', w.fromBits(w.arith('mul', 'i32', bits,
      w.i32(1 << 13))), w.f32(2 ** 112));
    return w.copysign(magnitude, w.arith('mul', 'i32', w.get(h, 'i32'), w.i32(1 << 16)));
  }
  vector(e.lanes);
  const loaded = w.tee(h, w.load16x4(ptr, offset), 'v128');
  const bits = w.ivec('shl', w.ivec('and', loaded, w.splatI32(w.i32(0x7fff))), w.i32(13));
  const magnitude = w.arith('mul', 'v128', bits, w.convert(w.f32(2 ** 112), 'f32', 'v128'));
  const sign = w.ivec('shl', w.ivec('and', w.get(h, 'v128'), w.splatI32(w.i32(0x8000))),
    w.i32(16));
  return w.ivec('or', magnitude, sign);
}

/**
 * One block of L = 4 rows dotted with 32 int8: per group of 4 columns, the 16 weight bytes
 * widen to two i16x8 (rows 0–1, rows 2–3) and i32x4.dot_i16x8_s against the 4 activations
 * (widened, twice) gives each row's two pair sums; the pairs are added once per block.
 */
function qdot(ctx: FunctionContext, e: Quant<'qdot'>): Expr {
  const w = ctx.w;
  vector(e.lanes);
  const wp = pinned(ctx, e.w, e.wAt);
  const xp = pinned(ctx, e.x, e.xAt);
  const [lo, hi, t, xw] = [0, 1, 2, 3].map(() => ctx.local('v128')) as [number, number,
    number, number];
  const body: Expr[] = [wp.set, xp.set, w.set(lo, w.splatI32(w.i32(0))),
    w.set(hi, w.splatI32(w.i32(0)))];
  /** lo/hi += the 16 bytes `value` against the 4 activations at `byte` (widened once). */
  const step = (value: Expr, signed: boolean, byte: number) => {
    body.push(w.set(t, value),
      w.set(xw, w.widen(w.loadSplat(xp.get(), xp.offset + byte), 'low', true)));
    for (const [acc, half] of [[lo, 'low'], [hi, 'high']] as const) {
      body.push(w.set(acc, w.ivec('add', w.get(acc, 'v128'),
        w.dot16(w.widen(w.get(t, 'v128'), half, signed), w.get(xw, 'v128')))));
    }
  };
  const groups = e.kind === 'q8_0' ? 8 : 4;
  for (let g = 0; g < groups; g++) {
    const load = () => w.load('v128', wp.get(), wp.offset + 16 * g);
    if (e.kind === 'q8_0') {
      step(load(), true, 4 * g);
    } else {
      step(w.ivec('and', load(), w.splatI32(w.i32(0x0f0f0f0f))), false, 4 * g);
      step(w.ivec('shr_u8', load(), w.i32(4)), false, 16 + 4 * g);
    }
  }
  const pairs = (first: number) => w.shuffle(w.get(lo, 'v128'), w.get(hi, 'v128'),
    [first, first + 2, first + 4, first + 6]);
  let sum = w.ivec('add', pairs(0), pairs(1));
  if (e.kind === 'q4_0') {
    sum = w.ivec('sub', sum, w.splatI32(w.arith('mul', 'i32', emit(ctx, e.xsum, 'i32'), w.i32(8))));
  }
  return w.blockValue([...body, sum], 'v128');
}

/** Element j of a block for 4 rows, as f32: byte j mod 4 of each row's lane of its group. */
function qvalue(ctx: FunctionContext, e: Quant<'qvalue'>): Expr {
  const w = ctx.w;
  vector(e.lanes);
  const { ptr, offset } = address(ctx, e.w, e.at);
  const j = e.j;
  if (e.kind === 'q8_0') {
    const v = w.load('v128', ptr, offset + (j >> 2) * 16);
    const lane = w.ivec('shr_s', w.ivec('shl', v, w.i32(24 - 8 * (j & 3))), w.i32(24));
    return w.convertI32x4(lane);
  }
  const v = w.load('v128', ptr, offset + ((j & 15) >> 2) * 16);
  const nib = w.ivec('and', w.ivec('shr_u', v, w.i32(8 * (j & 3) + 4 * (j >> 4))),
    w.splatI32(w.i32(15)));
  return w.convertI32x4(w.ivec('sub', nib, w.splatI32(w.i32(8))));
}
