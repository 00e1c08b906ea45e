// The plain attention kernel: the baseline the tiled one (attention.ts) is measured
// against, lowered when fusion is off (`--no-fuse`).

import type { Node } from '../../ir/graph.js';
import type { KExpr, Kernel } from '../../ir/kernel.js';
import {
  add, call, div, float, int, load, local, loop, max, mod, mul, set, store, sub, v,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';
import { arg, dim, dot, out } from './kernels.js';

/**
 * The plain attention kernel (`--no-fuse`: the baseline the tiled one is measured
 * against). Causal GQA, one parallel task per (token, head): scores of positions 0..pos+t into a
 * per-task array (at most seq_len floats, never a [seq, ctx] matrix), softmax in place
 * (one exp per position), then the weighted sum of values. Query head h reads kv head
 * h / (n_heads / n_kv_heads).
 */
export function plainAttention(node: Node, { target, graph }: LowerContext): Kernel {
  const { lanes } = target;
  const nh = node.attrs.n_heads as number;
  const nkv = node.attrs.n_kv_heads as number;
  const width = dim(node, 1);
  const hs = width / nh;
  const kvw = hs * nkv;
  const group = nh / nkv;
  const maxContext = dim(graph.nodes[node.inputs[1]!]!, 0);
  const window = (node.attrs.window as number | undefined) ?? 0;
  const imin = (a: KExpr, b: KExpr): KExpr => ({ k: 'bin', op: 'imin', a, b });
  const lo = window === 0 ? int(0) : sub(v('ctx'), imin(v('ctx'), int(window)));
  const q = (i: KExpr) => load('q', add(mul(v('t'), width), add(mul(v('h'), hs), i)), lanes);
  const kv = (buf: string, i: KExpr, l = lanes) =>
    load(buf, add(mul(v('p'), kvw), add(mul(v('g'), hs), i)), l);
  const score = dot('dot', q, (i) => kv('k', i), hs, lanes, 'qk');
  return {
    name: `attention_plain_${nh}x${nkv}x${hs}_ctx${maxContext}` +
      (window === 0 ? '' : `_win${window}`),
    doc: `out[n, ${width}] = causal softmax(q·kᵀ/√${hs})·v, ${nh} heads over ${nkv} kv heads`,
    params: [out(), arg('q'), arg('k'), arg('v')],
    body: [loop('th', 0, mul(v('n'), nh), [
      local('t', div(v('th'), nh), 'i32'),
      local('h', mod(v('th'), nh), 'i32'),
      local('g', div(v('h'), group), 'i32'),
      local('ctx', add(add(v('pos'), v('t')), 1), 'i32'),
      local('lo', lo, 'i32'),
      // scores and their max
      { k: 'array', name: 'scores', size: maxContext, zero: false },
      local('m', float(-Infinity)),
      loop('p', v('lo'), v('ctx'), [
        ...score.stmts,
        store('scores', v('p'), mul(score.result, float(1 / Math.sqrt(hs)))),
        set('m', max(v('m'), load('scores', v('p')))),
      ]),
      // softmax numerators and their sum
      local('l', float(0)),
      loop('p', v('lo'), v('ctx'), [
        store('scores', v('p'), call('exp', sub(load('scores', v('p')), v('m')))),
        set('l', add(v('l'), load('scores', v('p')))),
      ]),
      // weighted sum of values
      { k: 'array', name: 'acc', size: hs, zero: true },
      loop('p', v('lo'), v('ctx'), [loop('i', 0, hs, [store('acc', v('i'),
        add(load('acc', v('i')), mul(load('scores', v('p')), kv('v', v('i'), 1))))])]),
      loop('i', 0, hs, [store('out', add(mul(v('t'), width), add(mul(v('h'), hs), v('i'))),
        div(load('acc', v('i')), v('l')))]),
    ], { parallel: true })],
  };
}

