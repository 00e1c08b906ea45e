// One kernel generator per graph op: node + target → loop nest in kernel IR.
//
// Every kernel takes its output buffer first, then its operands in graph order. Dims that
// the graph fixes are constants in the loops; `n` (tokens in the step) and `pos` are the
// kernel's runtime scalars. Reductions use explicit vector accumulators and `hsum`, so the
// summation order is fixed by the target, never by the thread count.

import { InternalError, assertNever } from '../../ir/diagnostics.js';
import type { Graph, Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel, KernelParam } from '../../ir/kernel.js';
import { ROWS, formatLayout } from '../../ir/layout.js';
import {
  add, band, call, div, float, hsum, int, load, local, loop, mod, mul, set, shr, splat, store,
  sub, v,
} from '../../ir/kernel.js';
import type { Layout } from '../../ir/layout.js';
import { panelBytes, quantBytes, scaleBytes } from '../../ir/layout.js';
import type { OpKind } from '../../ir/ops.js';
import type { Target } from '../../ir/target.js';
import type { LayoutPlan } from '../layout.js';
import { attention, headsIndex } from './attention.js';
import { plainAttention } from './attention-plain.js';
import { FAMILY_GENERATORS } from './family.js';
import { formOf, packedMatmul } from './matmul.js';
import { quantMatmul } from './qmatmul.js';
import { moe } from './moe.js';
import { ropeTable, scaledRope } from './rope.js';
import { isPlainRope } from '../../ir/rope.js';

/** What a generator may look at besides its node. */
export interface LowerContext {
  graph: Graph;
  target: Target;
  layouts: LayoutPlan;
  /** Weights whose norm gain is folded in at load: weight node id → gain node id. */
  folds: ReadonlyMap<number, number>;
  /** FlashAttention-style tiles (default); false lowers the plain per-head kernel. */
  tiledAttention: boolean;
  /** Quantized matmuls: integer dot products (default) or dequantized in registers. */
  quantKernels: 'int' | 'float';
  /** The most tokens one step takes (the arena and scratch are planned for it). */
  maxTokens: number;
}

type Generator = (node: Node, ctx: LowerContext) => Kernel;

export const out = (name = 'out'): KernelParam => ({ name, type: 'f32', out: true });
export const arg = (name: string, type: KernelParam['type'] = 'f32'): KernelParam =>
  ({ name, type, out: false });

export function dim(node: Node, axis: number): number {
  const d = node.type.shape[axis];
  if (typeof d !== 'number') throw new InternalError('lower', `dim ${axis} of %${node.id} is ${d}`);
  return d;
}

/** `sum += a[ai..ai+len) · b[bi..bi+len)` with `lanes`-wide accumulators, then a scalar tail. */
export function dot(name: string, a: (i: KExpr) => KExpr, b: (i: KExpr) => KExpr, len: number,
  lanes: number, tag: string): { stmts: KStmt[]; result: KExpr } {
  const body = len - (len % lanes);
  const vec = `${name}_v`;
  const i = `i_${tag}`;
  const stmts: KStmt[] = [local(name, float(0))];
  if (body > 0) {
    stmts.push(local(vec, splat(float(0), lanes), 'f32', lanes));
    stmts.push(loop(i, 0, body, [
      set(vec, add(v(vec), mul(a(v(i)), b(v(i))))),
    ], { step: lanes }));
    stmts.push(set(name, hsum(v(vec), lanes)));
  }
  if (body < len) {
    const j = `j_${tag}`;
    stmts.push(loop(j, body, len, [set(name, add(v(name), mul(
      loadScalar(a, v(j)), loadScalar(b, v(j)))))]));
  }
  return { stmts, result: v(name) };
}

/** Re-issues a lane-generic accessor as a scalar load (tails of vector loops). */
function loadScalar(at: (i: KExpr) => KExpr, i: KExpr): KExpr {
  const e = at(i);
  return e.k === 'load' ? { ...e, lanes: 1 } : e;
}

/**
 * x[n, K] · w[N, K]ᵀ. Output rows are split in blocks of `cols` (the parallel loop); in
 * each block, tokens go `rows` at a time through a register tile of rows × cols vector
 * accumulators, so every weight vector loaded serves `rows` tokens. Leftover tokens and
 * leftover output rows get smaller tiles of the same shape.
 */
function matmul(node: Node, ctx: LowerContext): Kernel {
  const layout = ctx.layouts.get(node.inputs[1]!);
  if (layout && layout.kind !== 'rows' && layout.kind !== 'heads') {
    return panelMatmul(node, ctx, layout);
  }
  const { graph, target } = ctx;
  const [nOut, k] = graph.nodes[node.inputs[1]!]!.type.shape as [number, number];
  const { lanes } = target;
  const cols = target.tile.cols;
  const body = k - (k % lanes);

  const tile = (rows: number, nc: number, t0: KExpr, j0: KExpr): KStmt[] => {
    const acc = (r: number, c: number) => `acc${r}_${c}`;
    const stmts: KStmt[] = [];
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < nc; c++) {
        stmts.push(local(acc(r, c), splat(float(0), lanes), 'f32', lanes));
      }
    }
    const xs = (r: number, i: KExpr, l: number) => load('x', add(mul(add(t0, r), k), i), l);
    const ws = (c: number, i: KExpr, l: number) => load('w', add(mul(add(j0, c), k), i), l);
    if (body > 0) {
      const inner: KStmt[] = [];
      for (let c = 0; c < nc; c++) inner.push(local(`w${c}`, ws(c, v('i'), lanes), 'f32', lanes));
      for (let r = 0; r < rows; r++) {
        inner.push(local(`x${r}`, xs(r, v('i'), lanes), 'f32', lanes));
        for (let c = 0; c < nc; c++) {
          inner.push(set(acc(r, c), add(v(acc(r, c)), mul(v(`x${r}`), v(`w${c}`)))));
        }
      }
      stmts.push(loop('i', 0, body, inner, { step: lanes }));
    }
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < nc; c++) {
        stmts.push(local(`s${r}_${c}`, body > 0 ? hsum(v(acc(r, c)), lanes) : float(0)));
        if (body < k) {
          stmts.push(loop('j', body, k, [set(`s${r}_${c}`, add(v(`s${r}_${c}`),
            mul(xs(r, v('j'), 1), ws(c, v('j'), 1))))]));
        }
        stmts.push(store('out', add(mul(add(t0, r), nOut), add(j0, c)), v(`s${r}_${c}`)));
      }
    }
    return stmts;
  };

  // tokens in tiles of `rows`, then one at a time; output rows in blocks of `cols`
  const tokenLoops = (nc: number, j0: KExpr): KStmt[] => {
    const rows = target.tile.rows;
    return [
      local('t0', int(0), 'i32'),
      loop('t', 0, sub(v('n'), rows - 1), tile(rows, nc, v('t'), j0).concat(
        [set('t0', add(v('t'), rows))]), { step: rows }),
      loop('t', v('t0'), v('n'), tile(1, nc, v('t'), j0)),
    ];
  };
  const full = nOut - (nOut % cols);
  const stmts: KStmt[] = [];
  const blocks = { step: cols, parallel: true };
  if (full > 0) stmts.push(loop('jb', 0, full, tokenLoops(cols, v('jb')), blocks));
  // leftover output rows: one task, so it stays a (one-iteration) parallel loop
  if (full < nOut) {
    stmts.push(loop('jb', full, nOut, tokenLoops(nOut - full, v('jb')), blocks));
  }
  return {
    name: `matmul_${nOut}x${k}`,
    doc: `out[n, ${nOut}] = x[n, ${k}] · w[${nOut}, ${k}]ᵀ`,
    params: [out(), arg('x'), arg('w')],
    body: stmts,
  };
}

function rmsnorm(node: Node, { target }: LowerContext): Kernel {
  const d = dim(node, 1);
  const eps = node.attrs.eps as number;
  const offset = (node.attrs.gain_offset as number | undefined) ?? 0;
  const gain = offset === 0 ? load('weight', v('i')) : add(float(offset), load('weight', v('i')));
  const x = (i: KExpr, lanes = target.lanes) => load('x', add(mul(v('t'), d), i), lanes);
  const ss = dot('ss', x, x, d, target.lanes, 'ss');
  return {
    name: `rmsnorm_${d}_${eps}${offset === 0 ? '' : `_offset${offset}`}`.replace(/[.-]/g, '_'),
    doc: `out[n, ${d}] = x / sqrt(mean(x²) + ${eps}) · ` +
      (offset === 0 ? `weight[${d}]` : `(${offset} + weight[${d}])`),
    params: [out(), arg('x'), arg('weight')],
    body: [loop('t', 0, v('n'), [
      ...ss.stmts,
      local('scale', div(float(1), call('sqrt', add(div(ss.result, float(d)), float(eps))))),
      loop('i', 0, d, [store('out', add(mul(v('t'), d), v('i')),
        mul(mul(load('x', add(mul(v('t'), d), v('i'))), v('scale')), gain))]),
    ], { parallel: true })],
  };
}

/** The matmul kernel for a weight in any panel layout. */
function panelMatmul(node: Node, ctx: LowerContext,
  layout: Exclude<Layout, { kind: 'rows' | 'heads' }>) {
  switch (layout.kind) {
    case 'panels': return packedMatmul(node, ctx, layout.lanes);
    case 'f16': return packedMatmul(node, ctx, layout.lanes, true);
    case 'q8_0':
    case 'q4_0': return quantMatmul(node, ctx, layout.kind, layout.lanes);
    default: return assertNever(layout, 'layout');
  }
}

/**
 * A row of an encoded table: f16 panels (a half at ((row/L)·K + i)·L + row mod L), or a
 * quantized panel (scale d of block i/32, then the byte and nibble ir/layout.ts says).
 */
function encodedEmbed(d: number,
  layout: Exclude<Layout, { kind: 'rows' | 'panels' | 'heads' }>): Kernel {
  const L = layout.lanes;
  const p = div(v('row'), L);
  const l = mod(v('row'), L);
  const at = add(mul(v('t'), d), v('i'));
  let value: KExpr;
  if (layout.kind === 'f16') {
    value = { k: 'half', buf: 'table', index: mul(add(mul(add(mul(p, d), v('i')), L), l), 2),
      lanes: 1 };
  } else {
    const base = mul(p, panelBytes(layout, d));
    const b = shr(v('i'), 5);
    const j = band(v('i'), 31);
    const scale: KExpr = { k: 'half', buf: 'table', index: add(base, mul(add(mul(b, L), l), 2)),
      lanes: 1 };
    const quants = add(add(base, scaleBytes(L, d)), mul(b, quantBytes(layout.kind, L)));
    const group = layout.kind === 'q8_0' ? shr(j, 2) : shr(band(j, 15), 2);
    const byte = add(add(add(quants, mul(group, 4 * L)), mul(l, 4)), band(j, 3));
    const q = layout.kind === 'q8_0' ? load('table_s8', byte)
      : sub(band(shr(load('table', byte), mul(shr(j, 4), 4)), 15), 8);
    value = mul({ k: 'cast', to: 'f32', value: q }, scale);
  }
  return {
    name: `embed_${d}_${layout.kind}x${L}`,
    doc: `out[n, ${d}] = table[ids[t], :] (table ${layout.kind} in panels of ${L})`,
    params: [out(), arg('table', 'u8'), arg('ids', 'i32')],
    body: [
      ...(layout.kind === 'q8_0'
        ? [{ k: 'view', name: 'table_s8', buf: 'table', offset: int(0), type: 'i8' } as KStmt]
        : []),
      loop('t', 0, v('n'), [
        local('row', load('ids', v('t')), 'i32'),
        loop('i', 0, d, [store('out', at, value)]),
      ], { parallel: true })],
  };
}

function embed(node: Node, { layouts }: LowerContext): Kernel {
  const d = dim(node, 1);
  const layout = layouts.get(node.inputs[0]!);
  if (layout && layout.kind !== 'rows' && layout.kind !== 'panels' && layout.kind !== 'heads') {
    return encodedEmbed(d, layout);
  }
  const lanes = layout?.kind === 'panels' ? layout.lanes : 0;
  // rows: table[row, i]; panels: table[row / L][i][row % L]
  const at = lanes === 0 ? add(mul(v('row'), d), v('i'))
    : add(mul(add(mul(div(v('row'), lanes), d), v('i')), lanes), mod(v('row'), lanes));
  return {
    name: lanes === 0 ? `embed_${d}` : `embed_${d}_panels${lanes}`,
    doc: `out[n, ${d}] = table[ids[t], :]` + (lanes === 0 ? '' : ` (table in panels of ${lanes})`),
    params: [out(), arg('table'), arg('ids', 'i32')],
    body: [loop('t', 0, v('n'), [
      local('row', load('ids', v('t')), 'i32'),
      loop('i', 0, d, [store('out', add(mul(v('t'), d), v('i')), load('table', at))]),
    ], { parallel: true })],
  };
}

/**
 * RoPE over adjacent pairs. The angle depends on the position and the pair, not the head,
 * so each token computes its cos/sin table once (in f64) and every head reuses it.
 */
function rope(node: Node): Kernel {
  if (!isPlainRope(node.attrs)) return scaledRope(node);
  const width = dim(node, 1);
  const hs = node.attrs.head_size as number;
  const theta = node.attrs.theta as number;
  const at = (e: KExpr) => add(add(mul(v('t'), width), v('h')), e);
  const f64 = (value: KExpr): KExpr => ({ k: 'cast', to: 'f64', value });
  const f32 = (value: KExpr): KExpr => ({ k: 'cast', to: 'f32', value });
  return {
    name: `rope_${width}_${hs}_${theta}`.replace(/[.-]/g, '_'),
    doc: `out[n, ${width}] = x rotated in adjacent pairs, head_size ${hs}, theta ${theta}`,
    params: [out(), arg('x')],
    body: [loop('t', 0, v('n'), [
      // this token's table: angle = (pos + t) · theta^(-i / head_size) for even i
      { k: 'array', name: 'cs', size: hs / 2, zero: false },
      { k: 'array', name: 'sn', size: hs / 2, zero: false },
      loop('i', 0, hs, [
        local('angle', mul(f64(add(v('pos'), v('t'))),
          call('pow', float(theta), div(f64(sub(0, v('i'))), float(hs)))), 'f64'),
        store('cs', div(v('i'), 2), f32(call('cos', v('angle')))),
        store('sn', div(v('i'), 2), f32(call('sin', v('angle')))),
      ], { step: 2 }),
      // rotate every head's pairs
      loop('h', 0, width, [loop('i', 0, hs, [
        local('c', load('cs', div(v('i'), 2))),
        local('s', load('sn', div(v('i'), 2))),
        local('x0', load('x', at(v('i')))),
        local('x1', load('x', at(add(v('i'), 1)))),
        store('out', at(v('i')), sub(mul(v('x0'), v('c')), mul(v('x1'), v('s')))),
        store('out', at(add(v('i'), 1)), add(mul(v('x0'), v('s')), mul(v('x1'), v('c')))),
      ], { step: 2 })], { step: hs }),
    ], { parallel: true })],
  };
}

/** Appends the step's rows to a cache: row-major, or head-major (tiled attention's). */
function kvWrite(node: Node, ctx: LowerContext): Kernel {
  const w = dim(node, 1);
  const context = dim(node, 0);
  const layout = ctx.layouts.get(node.inputs[0]!) ?? ROWS;
  const p = add(v('pos'), v('t'));
  const x = (i: KExpr) => load('x', add(mul(v('t'), w), i));
  let body: KStmt;
  if (layout.kind === 'rows') {
    body = loop('i', 0, w, [store('cache', add(mul(p, w), v('i')), x(v('i')))]);
  } else if (layout.kind === 'heads') {
    const size = layout.size;
    body = loop('h', 0, w / size, [loop('c', 0, size, [
      store('cache', headsIndex(layout, context, v('h'), p, v('c')),
        x(add(mul(v('h'), size), v('c')))),
    ])]);
  } else {
    throw new InternalError('lower', `a cache in ${formatLayout(layout)}`);
  }
  const name = formatLayout(layout);
  return {
    name: layout.kind === 'rows' ? `kv_write_${w}` : `kv_write_${w}_${name}_ctx${context}`,
    doc: `cache[pos + t, :${w}] = x[t, :] (${name})`,
    params: [out('cache'), arg('x')],
    inPlace: true,
    body: [loop('t', 0, v('n'), [body], { parallel: true })],
  };
}

function elementwise(name: 'silu' | 'mul' | 'add') {
  return (node: Node): Kernel => {
    const d = dim(node, 1);
    const a = load('a', add(mul(v('t'), d), v('i')));
    const b = load('b', add(mul(v('t'), d), v('i')));
    const value = name === 'silu' ? div(a, add(float(1), call('exp', sub(float(0), a))))
      : name === 'mul' ? mul(a, b) : add(a, b);
    return {
      name: `${name}_${d}`,
      doc: `out[n, ${d}] = ` +
        (name === 'silu' ? 'a · sigmoid(a)' : `a ${name === 'mul' ? '·' : '+'} b`),
      params: name === 'silu' ? [out(), arg('a')] : [out(), arg('a'), arg('b')],
      body: [loop('t', 0, v('n'), [
        loop('i', 0, d, [store('out', add(mul(v('t'), d), v('i')), value)]),
      ], { parallel: true })],
    };
  };
}

/** Fused matmuls exist only over panel-packed weights (the fusion passes make sure). */
function fusedMatmul(node: Node, ctx: LowerContext): Kernel {
  const w = node.inputs[formOf(node).weights[0]!]!;
  const layout = ctx.layouts.get(w);
  if (!layout || layout.kind === 'rows' || layout.kind === 'heads') {
    throw new InternalError('lower', `%${node.id} ${node.op} needs its weight in panels`);
  }
  if (node.op === 'swiglu_matmul' && ctx.layouts.get(node.inputs[3]!)?.kind !== layout.kind) {
    throw new InternalError('lower', `%${node.id} swiglu_matmul: gate and up differ in layout`);
  }
  return panelMatmul(node, ctx, layout);
}

function leaf(node: Node): Kernel {
  throw new InternalError('lower', `leaf %${node.id} (${node.op}) has no kernel`);
}

/** Every op decides how it lowers; a new op fails the build here until it does. */
export const GENERATORS: Readonly<Record<OpKind, Generator>> = {
  input: leaf,
  weight: leaf,
  state: leaf,
  embed,
  rmsnorm,
  matmul,
  rope,
  kv_write: kvWrite,
  attention: (node, ctx) => (ctx.tiledAttention ? attention(node, ctx) : plainAttention(node, ctx)),
  attention_kv: attention,
  silu: elementwise('silu'),
  mul: elementwise('mul'),
  add: elementwise('add'),
  rms_matmul: fusedMatmul,
  matmul_add: fusedMatmul,
  matmul_bias: fusedMatmul,
  matmul_bias_add: fusedMatmul,
  rms_matmul_bias: fusedMatmul,
  rms_matmul_rope: fusedMatmul,
  rms_matmul_bias_rope: fusedMatmul,
  rope_table: ropeTable,
  swiglu_matmul: fusedMatmul,
  ...FAMILY_GENERATORS,
  moe,
};

export function generatorFor(op: OpKind): Generator {
  const g = GENERATORS[op];
  return g ?? assertNever(op as never, 'op');
}
