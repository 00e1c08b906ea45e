// The matmul kernel over a panel-packed weight (see ir/layout.ts): out[n, N] = x[n, K] · wᵀ.
//
// A panel holds L consecutive output rows interleaved, so one vector load at (panel, k)
// is w[j..j+L, k]: broadcast x[t, k], multiply, accumulate L outputs — no horizontal sums.
//
//   decode (n = 1)   one task per panel; four accumulators take k mod 4, so four FMA chains
//                    are in flight while the weights stream from memory
//   prefill (n > 1)  tasks are (block of C panels) × (tile of R tokens); each task keeps an
//                    R × C register tile of accumulators, so every weight vector loaded
//                    serves R tokens and every broadcast serves C panels
//
// Every output is summed in a fixed order that depends on n = 1 or not, never on threads.
// The last panel may be partial (N mod L rows): its lanes are stored one by one.

import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel } from '../../ir/kernel.js';
import {
  add, div, float, int, lane, load, local, loop, mod, mul, set, splat, store, v, when,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';

interface Shape {
  nOut: number; // N, output features
  k: number; // K, reduction length
  lanes: number; // L, rows per panel
  panels: number; // ceil(N / L)
}

/** Stores vector `value` as outputs j0..j0+L of token row `t`, minding a partial panel. */
function storePanel(s: Shape, t: KExpr, panel: KExpr, value: KExpr): KStmt {
  const j0 = mul(panel, s.lanes);
  const at = (l: number) => add(add(mul(t, s.nOut), j0), l);
  const full = s.nOut - (s.nOut % s.lanes);
  const partial: KStmt[] = [];
  for (let l = 0; l < s.nOut % s.lanes; l++) partial.push(store('out', at(l), lane(value, l)));
  if (full === s.nOut) return store('out', at(0), value, s.lanes);
  return when(j0, '<', int(full), [store('out', at(0), value, s.lanes)], partial);
}

const weightAt = (s: Shape, panel: KExpr, k: KExpr) => load('w', mul(add(mul(panel, s.k), k), s.lanes),
  s.lanes);

function matvec(s: Shape): KStmt {
  const chains = 4;
  const body = s.k - (s.k % chains);
  const acc = (c: number) => `acc${c}`;
  const term = (k: KExpr) => mul(splat(load('x', k), s.lanes), weightAt(s, v('p'), k));
  const stmts: KStmt[] = [];
  for (let c = 0; c < chains; c++) stmts.push(local(acc(c), splat(float(0), s.lanes), 'f32', s.lanes));
  stmts.push(loop('k', 0, body, [...Array(chains).keys()].map((c) =>
    set(acc(c), add(v(acc(c)), term(add(v('k'), c))))), { step: chains }));
  if (body < s.k) stmts.push(loop('k', body, s.k, [set(acc(0), add(v(acc(0)), term(v('k'))))]));
  stmts.push(storePanel(s, int(0), v('p'),
    add(add(v(acc(0)), v(acc(1))), add(v(acc(2)), v(acc(3))))));
  return loop('p', 0, s.panels, stmts, { parallel: true });
}

/** An R × C register tile at token t0 and panel p0. */
function tile(s: Shape, rows: number, cols: number, t0: KExpr, p0: KExpr): KStmt[] {
  const acc = (r: number, c: number) => `acc${r}_${c}`;
  const stmts: KStmt[] = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      stmts.push(local(acc(r, c), splat(float(0), s.lanes), 'f32', s.lanes));
    }
  }
  const inner: KStmt[] = [];
  for (let c = 0; c < cols; c++) inner.push(local(`w${c}`, weightAt(s, add(p0, c), v('k')), 'f32', s.lanes));
  for (let r = 0; r < rows; r++) {
    inner.push(local(`x${r}`, splat(load('x', add(mul(add(t0, r), s.k), v('k'))), s.lanes), 'f32',
      s.lanes));
    for (let c = 0; c < cols; c++) {
      inner.push(set(acc(r, c), add(v(acc(r, c)), mul(v(`x${r}`), v(`w${c}`)))));
    }
  }
  stmts.push(loop('k', 0, s.k, inner));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) stmts.push(storePanel(s, add(t0, r), add(p0, c), v(acc(r, c))));
  }
  return stmts;
}

function gemm(s: Shape, rows: number, cols: number): KStmt {
  const blocks = Math.ceil(s.panels / cols);
  const lastCols = s.panels - (blocks - 1) * cols;
  // the tokens of a task: a full tile of `rows`, or the leftover rows one at a time
  const tokens = (nc: number): KStmt[] => [
    when(add(v('t0'), rows), '<=', v('n'), tile(s, rows, nc, v('t0'), v('p0')),
      [loop('t', v('t0'), v('n'), tile(s, 1, nc, v('t'), v('p0')))]),
  ];
  const task: KStmt[] = [
    local('p0', mul(div(v('q'), v('tiles')), cols), 'i32'),
    local('t0', mul(mod(v('q'), v('tiles')), rows), 'i32'),
  ];
  if (lastCols === cols) task.push(...tokens(cols));
  else task.push(when(add(v('p0'), cols), '<=', int(s.panels), tokens(cols), tokens(lastCols)));
  return loop('q', 0, mul(int(blocks), v('tiles')), task, { parallel: true });
}

export function packedMatmul(node: Node, ctx: LowerContext, lanes: number): Kernel {
  const [nOut, k] = ctx.graph.nodes[node.inputs[1]!]!.type.shape as [number, number];
  const s: Shape = { nOut, k, lanes, panels: Math.ceil(nOut / lanes) };
  const { rows, cols } = ctx.target.tile;
  return {
    name: `matmul_${nOut}x${k}_panels${lanes}`,
    doc: `out[n, ${nOut}] = x[n, ${k}] · w[${nOut}, ${k}]ᵀ, w in panels of ${lanes}`,
    params: [{ name: 'out', type: 'f32', out: true }, { name: 'x', type: 'f32', out: false },
      { name: 'w', type: 'f32', out: false }],
    body: [when(v('n'), '==', int(1), [matvec(s)], [
      local('tiles', div(add(v('n'), rows - 1), rows), 'i32'),
      gemm(s, rows, cols),
    ])],
  };
}

