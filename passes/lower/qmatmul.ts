// Matmul kernels over quantized panels (q8_0 / q4_0, see ir/layout.ts), with the same
// fusions and epilogues as the f32 ones (matmul.ts). Two ways to compute, chosen by the
// `quantKernels` compile option:
//
//   int    (default) every token row of x is first quantized per 32-block to int8 as ggml
//          quantizes activations for q8_0 (d = max|x|/127, q = round(x/d); here rounding is
//          to nearest even and d stays f32), into scratch, with Σq per block. Then each
//          block is one `qdot` per L rows (vpdpbusd / maddubs / i32x4.dot_i16x8_s), and
//          acc += f32(qdot) · (d_w · d_x): one integer dot and one FMA per block.
//   float  the weights are dequantized in registers: per block, Σ_j x[j] · q[j] with f32
//          FMAs, then acc += that · d_w (the dequantize-in-registers path, for comparison).
//
// The norm gain of rms_matmul / swiglu_matmul is never folded into quantized weights (they
// stay bit for bit what the checkpoint holds): it is applied to x before x is quantized
// (int) or broadcast (float); the row scale 1/rms is applied in the epilogue, as for f32 —
// computed once per token while quantizing (int), not again by every panel's task.
// Decode (n = 1): one task per panel, two accumulators per weight (even and odd blocks).
// Prefill: tasks of C panels × R tokens, an R × C register tile per weight (the target's
// `qtile` for int kernels).

import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel, KernelParam } from '../../ir/kernel.js';
import {
  add, call, div, float, int, load, local, loop, max, mod, mul, set, splat, store, v, when,
} from '../../ir/kernel.js';
import type { QuantKind } from '../../ir/layout.js';
import { panelBytes, quantBytes, scaleBytes } from '../../ir/layout.js';
import { QK } from '../../ir/quant.js';
import type { LowerContext } from './kernels.js';
import type { Plan } from './matmul.js';
import {
  DOCS, activation, formOf, normScale, ropeName, ropeOf, rotateHeads, storePanel,
} from './matmul.js';

interface QPlan extends Plan {
  kind: QuantKind;
  blocks: number; // B = K / 32
  int: boolean;
  panelBytes: number;
  scaleBytes: number;
  quantBytes: number;
}

const P = (name: string, type: KernelParam['type'] = 'f32', out = false): KernelParam =>
  ({ name, type, out });
const toF32 = (value: KExpr, lanes: number): KExpr => ({ k: 'cast', to: 'f32', value, lanes });

/** Byte index of the quants of block b in panel p, and of its L scales. */
const quantsAt = (q: QPlan, p: KExpr, b: KExpr) =>
  add(add(mul(p, q.panelBytes), q.scaleBytes), mul(b, q.quantBytes));
const scalesAt = (q: QPlan, p: KExpr, b: KExpr) =>
  add(mul(p, q.panelBytes), mul(b, q.lanes * 2));
const scales = (q: QPlan, w: string, p: KExpr, b: KExpr): KExpr =>
  ({ k: 'half', buf: w, index: scalesAt(q, p, b), lanes: q.lanes });

/** Scratch words: int8 rows [T, K], f32 scales [T, B], i32 sums [T, B], row norms [T]. */
const scratchWords = (q: QPlan, tokens: number) => tokens * (q.k / 4 + 2 * q.blocks + 1);

/** The rmsnorm scale of token row t: computed once while quantizing (int), else per task. */
function rowScale(q: QPlan, t: KExpr, name: string): KStmt[] {
  if (q.norm === undefined) return [];
  return q.int ? [local(name, load('ns', t))] : normScale(q, t, name);
}

/** ns[t] = 1/√(mean(x[t]²) + eps), in index order (int kernels, while quantizing). */
function rowNorm(q: QPlan): KStmt[] {
  if (q.norm === undefined) return [];
  const x = load('x', add(mul(v('t'), q.k), v('k')));
  return [
    local('ss', float(0)),
    loop('k', 0, q.k, [set('ss', add(v('ss'), mul(x, x)))]),
    store('ns', v('t'), div(float(1), call('sqrt', add(div(v('ss'), float(q.k)),
      float(q.norm))))),
  ];
}

/** Quantizes every token row of (gain ·) x into the scratch views xq, dx, xs. */
function quantizeRows(q: QPlan): KStmt {
  const a = (k: KExpr) => activation(q, v('t'), k);
  const at = add(mul(v('t'), q.k), add(mul(v('b'), QK), v('j')));
  const block = add(mul(v('t'), q.blocks), v('b'));
  return loop('t', 0, v('n'), [...rowNorm(q), loop('b', 0, q.blocks, [
    local('amax', float(0)),
    loop('j', 0, QK, [set('amax', max(v('amax'), call('abs', a(add(mul(v('b'), QK), v('j'))))))]),
    local('d', div(v('amax'), float(127))),
    local('id', float(0)),
    when(float(0), '<', v('amax'), [set('id', div(float(1), v('d')))]),
    local('sum', int(0), 'i32'),
    loop('j', 0, QK, [
      local('q', { k: 'cast', to: 'i32', value: call('round',
        mul(a(add(mul(v('b'), QK), v('j'))), v('id'))) }, 'i32'),
      store('xq', at, v('q')),
      set('sum', add(v('sum'), v('q'))),
    ]),
    store('dx', block, v('d')),
    store('xs', block, v('sum')),
  ])], { parallel: true });
}

/** acc += block b of panel p against token row t, the int or the float way. */
function blockStep(q: QPlan, wi: number, t: KExpr, p: KExpr, acc: string,
  b: KExpr = v('b')): KStmt[] {
  const w = q.weights[wi]!;
  if (q.int) {
    const row = add(mul(t, q.blocks), b);
    const dot: KExpr = { k: 'qdot', kind: q.kind, lanes: q.lanes, w, wAt: quantsAt(q, p, b),
      x: 'xq', xAt: add(mul(t, q.k), mul(b, QK)), xsum: load('xs', row) };
    return [set(acc, add(v(acc), mul(toF32(dot, q.lanes),
      mul(scales(q, w, p, b), splat(load('dx', row), q.lanes)))))];
  }
  const blk = `${acc}_blk`;
  const stmts: KStmt[] = [local(blk, splat(float(0), q.lanes), 'f32', q.lanes)];
  for (let j = 0; j < QK; j++) {
    const x = activation(q, t, add(mul(b, QK), j));
    const value: KExpr = { k: 'qvalue', kind: q.kind, lanes: q.lanes, w, at: quantsAt(q, p, b),
      j };
    stmts.push(set(blk, add(v(blk), mul(splat(x, q.lanes), value))));
  }
  stmts.push(set(acc, add(v(acc), mul(v(blk), scales(q, w, p, b)))));
  return stmts;
}

const zeros = (name: string, lanes: number) => local(name, splat(float(0), lanes), 'f32', lanes);
const scaleOf = (q: QPlan, name: string) => (q.norm === undefined ? undefined : v(name));

function matvec(q: QPlan): KStmt {
  const accs = q.weights.map((_, wi) => [`acc${wi}_0`, `acc${wi}_1`] as const);
  const even = q.blocks - (q.blocks % 2);
  const stmts: KStmt[] = [...rowScale(q, int(0), 'scale'),
    ...accs.flatMap(([a0, a1]) => [zeros(a0, q.lanes), zeros(a1, q.lanes)])];
  // two chains (even and odd blocks) so that two blocks are in flight
  const pair = q.weights.flatMap((_, wi) => [
    ...blockStep(q, wi, int(0), v('p'), accs[wi]![0]),
    ...blockStep(q, wi, int(0), v('p'), accs[wi]![1], add(v('b'), 1)),
  ]);
  stmts.push(loop('b', 0, even, [{ k: 'comment', text: 'blocks b and b + 1' }, ...pair],
    { step: 2 }));
  if (even < q.blocks) {
    stmts.push(loop('b', even, q.blocks,
      q.weights.flatMap((_, wi) => blockStep(q, wi, int(0), v('p'), accs[wi]![0]))));
  }
  accs.forEach(([a0, a1], wi) => stmts.push(local(`sum${wi}`, add(v(a0), v(a1)), 'f32', q.lanes)));
  stmts.push(...storePanel(q, int(0), v('p'), q.weights.map((_, wi) => v(`sum${wi}`)),
    scaleOf(q, 'scale')));
  return loop('p', 0, q.panels, stmts, { parallel: true });
}

function tile(q: QPlan, rows: number, cols: number, t0: KExpr, p0: KExpr): KStmt[] {
  const acc = (w: number, r: number, c: number) => `acc${w}_${r}_${c}`;
  const stmts: KStmt[] = [];
  for (let r = 0; r < rows; r++) stmts.push(...rowScale(q, add(t0, r), `scale${r}`));
  q.weights.forEach((_, wi) => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) stmts.push(zeros(acc(wi, r, c), q.lanes));
    }
  });
  const inner: KStmt[] = [];
  q.weights.forEach((_, wi) => {
    for (let c = 0; c < cols; c++) {
      for (let r = 0; r < rows; r++) {
        inner.push(...blockStep(q, wi, add(t0, r), add(p0, c), acc(wi, r, c)));
      }
    }
  });
  stmts.push(loop('b', 0, q.blocks, inner));
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      stmts.push(...storePanel(q, add(t0, r), add(p0, c),
        q.weights.map((_, wi) => v(acc(wi, r, c))), scaleOf(q, `scale${r}`)));
    }
  }
  return stmts;
}

function gemm(q: QPlan, rows: number, cols: number): KStmt {
  const blocks = Math.ceil(q.panels / cols);
  const lastCols = q.panels - (blocks - 1) * cols;
  const tokens = (nc: number): KStmt[] => [
    when(add(v('t0'), rows), '<=', v('n'), tile(q, rows, nc, v('t0'), v('p0')),
      [loop('t', v('t0'), v('n'), tile(q, 1, nc, v('t'), v('p0')))]),
  ];
  const task: KStmt[] = [
    local('p0', mul(div(v('q'), v('tiles')), cols), 'i32'),
    local('t0', mul(mod(v('q'), v('tiles')), rows), 'i32'),
  ];
  if (lastCols === cols) task.push(...tokens(cols));
  else task.push(when(add(v('p0'), cols), '<=', int(q.panels), tokens(cols), tokens(lastCols)));
  return loop('q', 0, mul(int(blocks), v('tiles')), task, { parallel: true });
}

export function quantMatmul(node: Node, ctx: LowerContext, kind: QuantKind,
  lanes: number): Kernel {
  const op = node.op as keyof typeof DOCS;
  const form = formOf(node);
  const [nOut, k] = ctx.graph.nodes[node.inputs[form.weights[0]!]!]!.type.shape as
    [number, number];
  const layout = { kind, lanes };
  const q: QPlan = {
    nOut, k, lanes, panels: Math.ceil(nOut / lanes),
    weights: op === 'swiglu_matmul' ? ['w_gate', 'w_up'] : ['w'],
    residual: form.residual,
    bias: form.bias,
    folded: false, half: false,
    ...(form.norm ? { norm: node.attrs.eps as number } : {}),
    ...ropeOf(node, ctx),
    kind, blocks: k / QK, int: ctx.quantKernels !== 'float',
    panelBytes: panelBytes(layout, k), scaleBytes: scaleBytes(lanes, k),
    quantBytes: quantBytes(kind, lanes),
  };
  // int: the target's qtile; float: a block keeps a second accumulator per tile entry, so
  // half the f32 tile's rows
  const t = q.int ? ctx.target.qtile : ctx.target.tile;
  const rows = q.int ? t.rows : Math.max(1, t.rows >> 1);
  const cols = Math.max(1, Math.floor(t.cols / q.weights.length));
  const params = [P('out', 'f32', true), P('x'), ...(q.norm === undefined ? [] : [P('gain')]),
    ...q.weights.map((w) => P(w, 'u8')), ...(q.residual ? [P('residual')] : []),
    ...(q.bias ? [P('bias')] : []), ...(q.rope ? [P('table')] : [])];
  // RoPE runs after the product here, as a second parallel loop over tokens (the integer
  // kernels' tasks do not own whole heads)
  const rope = q.rope ? [loop('rt', 0, v('n'), rotateHeads(q, v('rt'), int(0),
    int(nOut / q.rope.headSize)), { parallel: true })] : [];
  const T = ctx.maxTokens;
  const views: KStmt[] = q.int ? [
    { k: 'view', name: 'xq', buf: 'scratch', offset: int(0), type: 'i8' },
    { k: 'view', name: 'dx', buf: 'scratch', offset: int(T * k / 4), type: 'f32' },
    { k: 'view', name: 'xs', buf: 'scratch', offset: int(T * (k / 4 + q.blocks)), type: 'i32' },
    { k: 'view', name: 'ns', buf: 'scratch', offset: int(T * (k / 4 + 2 * q.blocks)),
      type: 'f32' },
  ] : [];
  const eps = q.norm === undefined ? '' : `_eps${q.norm}`.replace(/[.-]/g, '_');
  const how = q.int ? 'int' : 'float';
  return {
    name: `${op}_${nOut}x${k}${eps}${ropeName(q)}_${kind}x${lanes}_${how}`,
    doc: `out[n, ${nOut}] = ${DOCS[op]}, x[n, ${k}], weights ${kind} in panels of ${lanes}, ` +
      `${how} kernels`,
    params: q.int ? [...params, P('scratch', 'f32', true)] : params,
    ...(q.int ? { scratch: scratchWords(q, T) } : {}),
    body: [...views, ...(q.int ? [quantizeRows(q)] : []), when(v('n'), '==', int(1),
      [matvec(q)], [
        local('tiles', div(add(v('n'), rows - 1), rows), 'i32'),
        gemm(q, rows, cols),
      ]), ...rope],
  };
}
