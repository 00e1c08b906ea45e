// The matmul kernels over panel-packed weights (see ir/layout.ts), with their fusions:
//
//   matmul          out = x · wᵀ
//   rms_matmul      out = rmsnorm(x, gain) · wᵀ        the norm is a prologue: per token row,
//                   scale = 1/√(mean(x²)+eps), applied last; the gain is folded into the
//                   weights at load (selectFolds), or else x[k]·gain[k] is broadcast
//   matmul_add      out = x · wᵀ + residual            added as the tile is stored
//   matmul_bias     out = x · wᵀ + bias                (rms_matmul_bias: normalized x) the
//                   bias vector is added as the tile is stored
//   swiglu_matmul   out = silu(norm(x)·w_gateᵀ) · (norm(x)·w_upᵀ)   both weights in one tile
//   rms_matmul_rope out = rope(norm(x) · wᵀ)           tasks own whole heads, and rotate them
//                   (from the step's rope_table) once their outputs are stored, in L1
//
// A panel holds L consecutive output rows interleaved, so one vector load at (panel, k) is
// w[j..j+L, k]: broadcast the activation, multiply, accumulate L outputs — no horizontal
// sums. Decode (n = 1) runs one task per 16 outputs (one panel of 16, four of 4) with four
// accumulators per weight (k mod 4), so four FMA chains are in flight while weights stream
// in; a fused norm is computed once per task. Prefill (n > 1) runs tasks of
// (block of C panels) × (tile of R tokens), an R × C register tile per weight, so every
// weight vector loaded serves R tokens. Summation order depends on n = 1 or not, never on
// the thread count. The last panel may be partial (N mod L rows): its lanes go one by one.
// Weights in f16 panels run the same loops, each weight vector converted to f32 as loaded;
// quantized panels (q8_0, q4_0) have their own kernels (qmatmul.ts) sharing the epilogue.

import { InternalError } from '../../ir/diagnostics.js';
import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel, KernelParam } from '../../ir/kernel.js';
import type { MatmulForm } from '../../ir/ops.js';
import { MATMUL_FORMS } from '../../ir/ops.js';
import {
  add, call, div, float, hsum, imin, int, lane, load, local, loop, mod, mul, set, splat, store,
  sub, v, when,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';

/** Outputs per decode task (whole panels): 1 panel of 16 lanes, 4 panels of 4. */
const MATVEC_OUTPUTS = 16;

export interface Plan {
  nOut: number; // N, output features
  k: number; // K, reduction length
  lanes: number; // L, rows per panel
  panels: number; // ceil(N / L)
  weights: string[]; // ['w'] or ['w_gate', 'w_up']
  norm?: number; // eps of a fused rmsnorm prologue
  folded: boolean; // the norm gain is already multiplied into the weights
  residual: boolean;
  bias: boolean;
  half: boolean; // weights in f16 panels (u8 buffers)
  /** A RoPE epilogue: heads of headSize, the first `rot` dims turned, NeoX pairing or not. */
  rope?: { headSize: number; rot: number; neox: boolean };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Panels per task: at least `least`, and with a RoPE epilogue a multiple of the panels that
 * hold whole heads (lcm(head size, L) outputs), so a task can rotate what it computed.
 */
function taskPanels(plan: Plan, least: number): number {
  if (!plan.rope) return least;
  const hs = plan.rope.headSize;
  const whole = hs / gcd(hs, plan.lanes); // lcm(hs, L) / L
  return whole * Math.ceil(least / whole);
}

/**
 * RoPE on the stored outputs of token row `t`, heads h0 .. h1 − 1, with the angles of the
 * rope_table row t: (a, b) → (a·cos − b·sin, a·sin + b·cos), as the rope kernel turns them.
 */
export function rotateHeads(plan: Plan, t: KExpr, h0: KExpr, h1: KExpr): KStmt[] {
  const { headSize: hs, rot, neox } = plan.rope!;
  const half = rot / 2;
  const at = (e: KExpr) => add(add(mul(t, plan.nOut), mul(v('rh'), hs)), e);
  const [a, b] = neox ? [v('rj'), add(v('rj'), half)]
    : [mul(v('rj'), 2), add(mul(v('rj'), 2), 1)];
  return [loop('rh', h0, h1, [loop('rj', 0, half, [
    local('rc', load('table', add(mul(t, rot), v('rj')))),
    local('rs', load('table', add(add(mul(t, rot), half), v('rj')))),
    local('r0', load('out', at(a))),
    local('r1', load('out', at(b))),
    store('out', at(a), sub(mul(v('r0'), v('rc')), mul(v('r1'), v('rs')))),
    store('out', at(b), add(mul(v('r0'), v('rs')), mul(v('r1'), v('rc')))),
  ])])];
}

/** Heads from output panel p0 on, over `panels` panels (clipped to the last head). */
function headsOf(plan: Plan, p0: KExpr, panels: number): [KExpr, KExpr] {
  const hs = plan.rope!.headSize;
  const h0 = div(mul(p0, plan.lanes), hs);
  return [h0, imin(add(h0, (panels * plan.lanes) / hs), int(plan.nOut / hs))];
}

const P = (name: string, out = false, type: KernelParam['type'] = 'f32'): KernelParam =>
  ({ name, type, out });

/**
 * The value `lanes` outputs get from their accumulator(s), with the epilogue applied;
 * `at` is the element of the first of them in the output, `column` its output feature.
 */
export function epilogue(plan: Plan, accs: KExpr[], scale: KExpr | undefined, at: KExpr,
  column: KExpr, lanes: number): KExpr {
  const scaled = accs.map((a) => (scale ? mul(a, lanes === 1 ? scale : splat(scale, lanes)) : a));
  if (plan.weights.length === 2) {
    const [gate, up] = scaled as [KExpr, KExpr];
    return mul(div(gate, add(float(1), call('exp', sub(float(0), gate)))), up);
  }
  // the bias first, then the residual: the order of the unfused add_bias and add
  const biased = plan.bias ? add(scaled[0]!, load('bias', column, lanes)) : scaled[0]!;
  return plan.residual ? add(biased, load('residual', at, lanes)) : biased;
}

/** Stores a panel of outputs for token row `t`; a partial one lane by lane. */
export function storePanel(plan: Plan, t: KExpr, panel: KExpr, accs: KExpr[],
  scale?: KExpr): KStmt[] {
  const j0 = mul(panel, plan.lanes);
  const at = (l: number) => add(add(mul(t, plan.nOut), j0), l);
  const perLane = (count: number) => [...Array(count).keys()].map((l) => store('out', at(l),
    epilogue(plan, accs.map((a) => lane(a, l)), scale, at(l), add(j0, l), 1)));
  const vector = [store('out', at(0), epilogue(plan, accs, scale, at(0), j0, plan.lanes),
    plan.lanes)];
  const full = plan.nOut - (plan.nOut % plan.lanes);
  if (full === plan.nOut) return vector;
  return [when(j0, '<', int(full), vector, perLane(plan.nOut % plan.lanes))];
}

const weightAt = (plan: Plan, w: string, panel: KExpr, k: KExpr): KExpr => plan.half
  ? { k: 'half', buf: w, index: mul(add(mul(panel, plan.k), k), plan.lanes * 2),
    lanes: plan.lanes }
  : load(w, mul(add(mul(panel, plan.k), k), plan.lanes), plan.lanes);

/** `scale<r>` = 1/√(mean(x[t]²) + eps), the rmsnorm of token row t, in a fixed order. */
export function normScale(plan: Plan, t: KExpr, name: string): KStmt[] {
  if (plan.norm === undefined) return [];
  const body = plan.k - (plan.k % plan.lanes);
  const x = (i: KExpr, l: number) => load('x', add(mul(t, plan.k), i), l);
  const stmts: KStmt[] = [local(`${name}_ss`, float(0))];
  if (body > 0) {
    stmts.push(local(`${name}_v`, splat(float(0), plan.lanes), 'f32', plan.lanes),
      loop('i', 0, body, [set(`${name}_v`, add(v(`${name}_v`),
        mul(x(v('i'), plan.lanes), x(v('i'), plan.lanes))))], { step: plan.lanes }),
      set(`${name}_ss`, hsum(v(`${name}_v`), plan.lanes)));
  }
  if (body < plan.k) {
    stmts.push(loop('i', body, plan.k, [set(`${name}_ss`, add(v(`${name}_ss`),
      mul(x(v('i'), 1), x(v('i'), 1))))]));
  }
  stmts.push(local(name, div(float(1), call('sqrt', add(div(v(`${name}_ss`), float(plan.k)),
    float(plan.norm))))));
  return stmts;
}

/** x[t, k], times gain[k] when the norm is fused and its gain not folded into the weights. */
export function activation(plan: Plan, t: KExpr, k: KExpr): KExpr {
  const x = load('x', add(mul(t, plan.k), k));
  return plan.norm === undefined || plan.folded ? x : mul(x, load('gain', k));
}

function matvec(plan: Plan): KStmt {
  const chains = 4;
  const body = plan.k - (plan.k % chains);
  const acc = (w: number, c: number) => `acc${w}_${c}`;
  const step = (k: KExpr, c: number): KStmt[] => plan.weights.map((w, wi) =>
    set(acc(wi, c), add(v(acc(wi, c)), mul(splat(activation(plan, int(0), k), plan.lanes),
      weightAt(plan, w, v('p'), k)))));
  const stmts: KStmt[] = [];
  plan.weights.forEach((_, wi) => {
    for (let c = 0; c < chains; c++) {
      stmts.push(local(acc(wi, c), splat(float(0), plan.lanes), 'f32', plan.lanes));
    }
  });
  stmts.push(loop('k', 0, body, [...Array(chains).keys()].flatMap((c) =>
    step(add(v('k'), c), c)), { step: chains }));
  if (body < plan.k) stmts.push(loop('k', body, plan.k, step(v('k'), 0)));
  const sums = plan.weights.map((_, wi) =>
    add(add(v(acc(wi, 0)), v(acc(wi, 1))), add(v(acc(wi, 2)), v(acc(wi, 3)))));
  const sumNames = sums.map((_, wi) => `sum${wi}`);
  sums.forEach((s, wi) => stmts.push(local(sumNames[wi]!, s, 'f32', plan.lanes)));
  stmts.push(...storePanel(plan, int(0), v('p'), sumNames.map(v),
    plan.norm === undefined ? undefined : v('scale')));
  // a task covers MATVEC_OUTPUTS outputs (whole heads with RoPE), so a fused norm is
  // computed once for all of them
  const group = taskPanels(plan, Math.max(1, Math.floor(MATVEC_OUTPUTS / plan.lanes)));
  const rotate = (p0: KExpr) => (plan.rope ? rotateHeads(plan, int(0), ...headsOf(plan, p0,
    group)) : []);
  if (group === 1) {
    return loop('p', 0, plan.panels, [...normScale(plan, int(0), 'scale'), ...stmts,
      ...rotate(v('p'))], { parallel: true });
  }
  return loop('q', 0, Math.ceil(plan.panels / group), [
    ...normScale(plan, int(0), 'scale'),
    loop('p', mul(v('q'), group), imin(add(mul(v('q'), group), group), int(plan.panels)), stmts),
    ...rotate(mul(v('q'), group)),
  ], { parallel: true });
}

/**
 * An R × C register tile (per weight) at token t0 and panel p0; a fused norm's row scales
 * `scale<r>` are computed by the caller (once for every tile of a task). `tag` tells the
 * accumulators of several tiles in one task apart.
 */
function tile(plan: Plan, rows: number, cols: number, t0: KExpr, p0: KExpr, tag = ''): KStmt[] {
  const acc = (w: number, r: number, c: number) => `acc${tag}${w}_${r}_${c}`;
  const stmts: KStmt[] = [];
  plan.weights.forEach((_, wi) => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        stmts.push(local(acc(wi, r, c), splat(float(0), plan.lanes), 'f32', plan.lanes));
      }
    }
  });
  const inner: KStmt[] = [];
  plan.weights.forEach((w, wi) => {
    for (let c = 0; c < cols; c++) {
      inner.push(local(`w${wi}_${c}`, weightAt(plan, w, add(p0, c), v('k')), 'f32', plan.lanes));
    }
  });
  for (let r = 0; r < rows; r++) {
    inner.push(local(`x${r}`, splat(activation(plan, add(t0, r), v('k')), plan.lanes), 'f32',
      plan.lanes));
    plan.weights.forEach((_, wi) => {
      for (let c = 0; c < cols; c++) {
        inner.push(set(acc(wi, r, c), add(v(acc(wi, r, c)), mul(v(`x${r}`), v(`w${wi}_${c}`)))));
      }
    });
  }
  stmts.push(loop('k', 0, plan.k, inner));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      stmts.push(...storePanel(plan, add(t0, r), add(p0, c),
        plan.weights.map((_, wi) => v(acc(wi, r, c))),
        plan.norm === undefined ? undefined : v(`scale${r}`)));
    }
  }
  return stmts;
}

function gemm(plan: Plan, rows: number, cols: number): KStmt {
  // a task's block of panels: one register tile wide, or whole heads (RoPE) in tiles
  const width = taskPanels(plan, cols);
  const blocks = Math.ceil(plan.panels / width);
  const lastWidth = plan.panels - (blocks - 1) * width;
  // `count` tokens from t: the block's register tiles, then the heads' rotation
  const block = (count: number, t: KExpr, nb: number): KStmt[] => {
    const stmts: KStmt[] = [];
    for (let r = 0; r < count; r++) stmts.push(...normScale(plan, add(t, r), `scale${r}`));
    for (let c0 = 0; c0 < nb; c0 += cols) {
      stmts.push(...tile(plan, count, Math.min(cols, nb - c0), t, add(v('p0'), c0),
        c0 === 0 ? '' : `p${c0}_`));
    }
    if (plan.rope) {
      const [h0, h1] = headsOf(plan, v('p0'), nb);
      for (let r = 0; r < count; r++) stmts.push(...rotateHeads(plan, add(t, r), h0, h1));
    }
    return stmts;
  };
  // the tokens of a task: a full tile of `rows`, or the leftover rows one at a time
  const tokens = (nb: number): KStmt[] => [
    when(add(v('t0'), rows), '<=', v('n'), block(rows, v('t0'), nb),
      [loop('t', v('t0'), v('n'), block(1, v('t'), nb))]),
  ];
  const task: KStmt[] = [
    local('p0', mul(div(v('q'), v('tiles')), width), 'i32'),
    local('t0', mul(mod(v('q'), v('tiles')), rows), 'i32'),
  ];
  if (lastWidth === width) task.push(...tokens(width));
  else {
    task.push(when(add(v('p0'), width), '<=', int(plan.panels), tokens(width),
      tokens(lastWidth)));
  }
  return loop('q', 0, mul(int(blocks), v('tiles')), task, { parallel: true });
}

export const DOCS = {
  matmul: 'x · wᵀ',
  rms_matmul: 'rmsnorm(x, gain) · wᵀ',
  matmul_add: 'x · wᵀ + residual',
  matmul_bias: 'x · wᵀ + bias',
  matmul_bias_add: 'x · wᵀ + bias + residual',
  rms_matmul_bias: 'rmsnorm(x, gain) · wᵀ + bias',
  rms_matmul_rope: 'rope(rmsnorm(x, gain) · wᵀ)',
  rms_matmul_bias_rope: 'rope(rmsnorm(x, gain) · wᵀ + bias)',
  swiglu_matmul: 'silu(rmsnorm(x, gain) · w_gateᵀ) · (rmsnorm(x, gain) · w_upᵀ)',
} as const;

/** The RoPE epilogue of an rms_matmul_rope (the rotated dims are its table's width). */
export function ropeOf(node: Node, ctx: LowerContext): Pick<Plan, 'rope'> {
  if (!formOf(node).rope) return {};
  const table = ctx.graph.nodes[node.inputs[node.inputs.length - 1]!]!;
  return { rope: { headSize: node.attrs.head_size as number, rot: table.type.shape[1] as number,
    neox: node.attrs.neox === true } };
}

/** The part of a kernel name that tells RoPE epilogues apart. */
export const ropeName = (plan: Pick<Plan, 'rope'>): string => (plan.rope
  ? `_rope${plan.rope.headSize}x${plan.rope.rot}${plan.rope.neox ? 'neox' : ''}` : '');

/** The form of a matmul-family node (ir/ops.ts MATMUL_FORMS). */
export function formOf(node: Node): MatmulForm {
  const form = MATMUL_FORMS[node.op];
  if (!form) throw new InternalError('lower', `%${node.id} ${node.op} is not a matmul`);
  return form;
}

export function packedMatmul(node: Node, ctx: LowerContext, lanes: number,
  half = false): Kernel {
  const op = node.op as keyof typeof DOCS;
  const form = formOf(node);
  const weightIds = form.weights.map((i) => node.inputs[i]!);
  const folded = form.norm && weightIds.every((w) => ctx.folds.has(w));
  const [nOut, k] = ctx.graph.nodes[weightIds[0]!]!.type.shape as [number, number];
  const plan: Plan = {
    nOut, k, lanes, panels: Math.ceil(nOut / lanes),
    weights: op === 'swiglu_matmul' ? ['w_gate', 'w_up'] : ['w'],
    residual: form.residual,
    bias: form.bias,
    folded,
    half,
    ...(form.norm ? { norm: node.attrs.eps as number } : {}),
    ...ropeOf(node, ctx),
  };
  const { rows } = ctx.target.tile;
  const cols = Math.max(1, Math.floor(ctx.target.tile.cols / plan.weights.length));
  const params = [P('out', true), P('x'), ...(plan.norm === undefined ? [] : [P('gain')]),
    ...plan.weights.map((w) => P(w, false, half ? 'u8' : 'f32')),
    ...(plan.residual ? [P('residual')] : []), ...(plan.bias ? [P('bias')] : []),
    ...(plan.rope ? [P('table')] : [])];
  const eps = plan.norm === undefined ? ''
    : `_eps${plan.norm}`.replace(/[.-]/g, '_') + (folded ? '_folded' : '');
  return {
    name: `${op}_${nOut}x${k}${eps}${ropeName(plan)}_${half ? 'f16x' : 'panels'}${lanes}`,
    doc: `out[n, ${nOut}] = ${DOCS[op]}, x[n, ${k}], weights in ${half ? 'f16 ' : ''}panels ` +
      `of ${lanes}`,
    params,
    body: [when(v('n'), '==', int(1), [matvec(plan)], [
      local('tiles', div(add(v('n'), rows - 1), rows), 'i32'),
      gemm(plan, rows, cols),
    ])],
  };
}
