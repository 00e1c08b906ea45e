// The mixture-of-experts kernel: routing, then only the chosen experts' FFNs.
//
//   out[t] = Σ_{e ∈ top_k(p)} w_e · down_e(silu(gate_e · x[t]) ⊙ (up_e · x[t])),
//   p = softmax(x[t] · routerᵀ), w_e = p_e (÷ Σ chosen p when norm_topk)
//
// Three parallel loops, each a barrier apart, sharing a scratch block (in the arena, like
// attention's split-KV partials): route[t, k] = (expert, weight), hidden[t, k, ff]:
//   1. per token: router logits, softmax, top-k by repeated arg-max (lower index first on
//      ties; a chosen expert's p is set to −2 so it is not picked again), weights
//   2. per (token, k, hidden row): silu(gate row · x) · (up row · x) of the chosen expert
//   3. per (token, output row): Σ_k weight · (down row of the chosen expert · hidden)
// Loops 2 and 3 split the experts' rows over threads, so decode (one token) uses them all;
// the weights of experts no token chose are never loaded. Dot products are vector partial
// sums in a fixed order, so results do not depend on the thread count.

import type { Node } from '../../ir/graph.js';
import type { KExpr, Kernel } from '../../ir/kernel.js';
import {
  add, call, div, float, int, load, local, loop, max, mod, mul, set, store, sub, v, when,
} from '../../ir/kernel.js';
import { rowSum } from './family.js';
import type { LowerContext } from './kernels.js';
import { arg, dim, out } from './kernels.js';

const toI32 = (value: KExpr): KExpr => ({ k: 'cast', to: 'i32', value });
const toF32 = (value: KExpr): KExpr => ({ k: 'cast', to: 'f32', value });

export function moe(node: Node, { graph, target, maxTokens }: LowerContext): Kernel {
  const d = dim(node, 1);
  const [experts, ff] = graph.nodes[node.inputs[2]!]!.type.shape as [number, number];
  const topK = node.attrs.top_k as number;
  const norm = node.attrs.norm_topk !== false;
  const { lanes } = target;
  const hiddenAt = maxTokens * topK * 2; // scratch: route block, then hidden block
  const route = (tk: KExpr, field: 0 | 1) => add(mul(tk, 2), field);
  const xs = (i: KExpr, l: number) => load('x', add(mul(v('t'), d), i), l);
  const dotWith = (name: string, buf: string, row: KExpr, a: (i: KExpr, l: number) => KExpr,
    len: number) => rowSum(name, (i, l) => mul(a(i, l), load(buf, add(row, i), l)), len, lanes);

  // 1. routing, per token
  const routing = loop('t', 0, v('n'), [
    { k: 'array', name: 'p', size: experts, zero: false },
    local('m', float(-Infinity)),
    loop('e', 0, experts, [
      ...dotWith('logit', 'router', mul(v('e'), d), xs, d),
      store('p', v('e'), v('logit')),
      set('m', max(v('m'), v('logit'))),
    ]),
    local('total', float(0)),
    loop('e', 0, experts, [
      store('p', v('e'), call('exp', sub(load('p', v('e')), v('m')))),
      set('total', add(v('total'), load('p', v('e')))),
    ]),
    local('chosen', float(0)),
    loop('kk', 0, topK, [
      local('best', float(-1)),
      local('bi', int(0), 'i32'),
      loop('e', 0, experts, [when(v('best'), '<', load('p', v('e')), [
        set('best', load('p', v('e'))), set('bi', v('e')),
      ])]),
      local('tk', add(mul(v('t'), topK), v('kk')), 'i32'),
      store('scratch', route(v('tk'), 0), toF32(v('bi'))),
      store('scratch', route(v('tk'), 1), div(v('best'), v('total'))),
      set('chosen', add(v('chosen'), div(v('best'), v('total')))),
      store('p', v('bi'), float(-2)),
    ]),
    ...(norm ? [loop('kk', 0, topK, [
      local('tk', add(mul(v('t'), topK), v('kk')), 'i32'),
      store('scratch', route(v('tk'), 1), div(load('scratch', route(v('tk'), 1)), v('chosen'))),
    ])] : []),
  ], { parallel: true });

  // 2. hidden rows of the chosen experts, per (token, k, row)
  const hidden = loop('task', 0, mul(mul(v('n'), topK), ff), [
    local('tk', div(v('task'), ff), 'i32'),
    local('r', mod(v('task'), ff), 'i32'),
    local('t', div(v('tk'), topK), 'i32'),
    local('e', toI32(load('scratch', route(v('tk'), 0))), 'i32'),
    local('row', mul(add(mul(v('e'), ff), v('r')), d), 'i32'),
    ...dotWith('g', 'w_gate', v('row'), xs, d),
    ...dotWith('u', 'w_up', v('row'), xs, d),
    store('scratch', add(add(hiddenAt, mul(v('tk'), ff)), v('r')),
      mul(div(v('g'), add(float(1), call('exp', sub(float(0), v('g'))))), v('u'))),
  ], { parallel: true });

  // 3. output rows, per (token, row): the weighted sum over the chosen experts
  const hs = (i: KExpr, l: number) => load('scratch', add(add(hiddenAt, mul(v('tk'), ff)), i), l);
  const output = loop('task', 0, mul(v('n'), d), [
    local('t', div(v('task'), d), 'i32'),
    local('j', mod(v('task'), d), 'i32'),
    local('acc', float(0)),
    loop('kk', 0, topK, [
      local('tk', add(mul(v('t'), topK), v('kk')), 'i32'),
      local('e', toI32(load('scratch', route(v('tk'), 0))), 'i32'),
      ...dotWith('s', 'w_down', mul(add(mul(v('e'), d), v('j')), ff), hs, ff),
      set('acc', add(v('acc'), mul(load('scratch', route(v('tk'), 1)), v('s')))),
    ]),
    store('out', v('task'), v('acc')),
  ], { parallel: true });

  return {
    name: `moe_${d}x${ff}_e${experts}_k${topK}${norm ? '' : '_raw'}_t${maxTokens}`,
    doc: `out[n, ${d}] = Σ over the top ${topK} of ${experts} experts: weight · ` +
      `down(silu(gate·x) ⊙ up·x), hidden ${ff}`,
    params: [out(), arg('x'), arg('router'), arg('w_gate'), arg('w_up'), arg('w_down'),
      { name: 'scratch', type: 'f32', out: true }],
    scratch: maxTokens * topK * (2 + ff),
    body: [routing, hidden, output],
  };
}
