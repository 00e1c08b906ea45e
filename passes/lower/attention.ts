// FlashAttention-style causal grouped-query attention over the KV cache.
//
// Keys and values are visited in tiles of B positions. A task owns one kv head g and the
// G = n_heads / n_kv_heads query heads that share it, so every K and V row loaded from a
// tile serves all G heads. Per head it keeps a running max m, a running sum l and the
// weighted sum of values acc, rescaled by exp(m_old − m_new) when a tile raises the max
// (the online softmax); scores live only in a [G, B] tile, never in a [seq, ctx] matrix.
//
//   prefill (n > 1)  one task per (token, kv head); token t attends to positions 0..pos+t
//   decode  (n = 1)  split-KV: one task per (kv head, tile), each writing its partial
//                    (m, l, acc) to scratch; a second parallel loop merges the tiles per
//                    head. This gives n_kv_heads × ceil(ctx / B) tasks instead of n_heads.
//
// The order of every sum is fixed by B and ctx, never by the thread count.

import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel } from '../../ir/kernel.js';
import {
  add, call, div, float, hsum, int, load, local, loop, max, mod, mul, set, splat, store, sub, v,
  when,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';

/** Key/value positions per tile. */
export const KV_TILE = 128;

interface Shape {
  heads: number;
  kvHeads: number;
  group: number; // G: query heads per kv head
  headSize: number;
  width: number; // heads × headSize
  kvWidth: number;
  lanes: number;
  /** Sliding window: positions each token sees, itself included; 0 = all. */
  window: number;
}

/** `lo`: the first position a token with context `ctx` sees (0 without a window). */
const windowStart = (s: Shape): KStmt =>
  local('lo', s.window === 0 ? int(0) : sub(v('ctx'), imin(v('ctx'), int(s.window))), 'i32');

const imin = (a: KExpr, b: KExpr): KExpr => ({ k: 'bin', op: 'imin', a, b });

/** q[t, (g·G + j)·hs + i] · k[p, g·hs + i] over i, into local `name`. */
function score(s: Shape, j: number, name: string): KStmt[] {
  const hs = s.headSize;
  const body = hs - (hs % s.lanes);
  const q = (i: KExpr, l: number) =>
    load('q', add(add(mul(v('t'), s.width), (mul(add(mul(v('g'), s.group), j), hs))), i), l);
  const k = (i: KExpr, l: number) =>
    load('k', add(add(mul(v('p'), s.kvWidth), mul(v('g'), hs)), i), l);
  const stmts: KStmt[] = [local(name, float(0))];
  if (body > 0) {
    stmts.push(local(`${name}_v`, splat(float(0), s.lanes), 'f32', s.lanes),
      loop('i', 0, body, [set(`${name}_v`, add(v(`${name}_v`), mul(q(v('i'), s.lanes),
        k(v('i'), s.lanes))))], { step: s.lanes }),
      set(name, hsum(v(`${name}_v`), s.lanes)));
  }
  if (body < hs) {
    stmts.push(loop('i', body, hs, [set(name, add(v(name), mul(q(v('i'), 1), k(v('i'), 1))))]));
  }
  return stmts;
}

/** Running state of the G heads: m[G] = −∞, l[G] = 0, acc[G·hs] = 0, and the score tile. */
function initState(s: Shape): KStmt[] {
  return [
    { k: 'array', name: 'm', size: s.group, zero: false },
    { k: 'array', name: 'l', size: s.group, zero: true },
    { k: 'array', name: 'acc', size: s.group * s.headSize, zero: true },
    { k: 'array', name: 'tile', size: s.group * KV_TILE, zero: false },
    loop('j', 0, s.group, [store('m', v('j'), float(-Infinity))]),
  ];
}

/** Folds positions [from, to) (at most one tile) into the running state. */
function visitTile(s: Shape, from: KExpr, to: KExpr): KStmt[] {
  const hs = s.headSize;
  const at = (j: KExpr) => add(mul(j, KV_TILE), sub(v('p'), from));
  const scores: KStmt[] = [];
  for (let j = 0; j < s.group; j++) {
    scores.push(...score(s, j, `s${j}`),
      store('tile', at(int(j)), mul(v(`s${j}`), float(1 / Math.sqrt(hs)))));
  }
  return [
    // scores of every head of the group: each key row is loaded once
    loop('p', from, to, scores),
    // online softmax: new max, rescale what came before, exponentiate the tile
    loop('j', 0, s.group, [
      local('m_new', load('m', v('j'))),
      loop('p', from, to, [set('m_new', max(v('m_new'), load('tile', at(v('j')))))]),
      local('rescale', call('exp', sub(load('m', v('j')), v('m_new')))),
      store('l', v('j'), mul(load('l', v('j')), v('rescale'))),
      loop('i', 0, hs, [store('acc', add(mul(v('j'), hs), v('i')),
        mul(load('acc', add(mul(v('j'), hs), v('i'))), v('rescale')))]),
      loop('p', from, to, [
        local('e', call('exp', sub(load('tile', at(v('j'))), v('m_new')))),
        store('tile', at(v('j')), v('e')),
        store('l', v('j'), add(load('l', v('j')), v('e'))),
      ]),
      store('m', v('j'), v('m_new')),
    ]),
    // values: each value row is loaded once for the whole group
    loop('p', from, to, [loop('j', 0, s.group, [
      local('e', load('tile', at(v('j')))),
      loop('i', 0, hs, [store('acc', add(mul(v('j'), hs), v('i')), add(
        load('acc', add(mul(v('j'), hs), v('i'))),
        mul(v('e'), load('v', add(add(mul(v('p'), s.kvWidth), mul(v('g'), hs)), v('i'))))))]),
    ])]),
  ];
}

function prefill(s: Shape): KStmt {
  const hs = s.headSize;
  return loop('task', 0, mul(v('n'), s.kvHeads), [
    local('t', div(v('task'), s.kvHeads), 'i32'),
    local('g', mod(v('task'), s.kvHeads), 'i32'),
    local('ctx', add(add(v('pos'), v('t')), 1), 'i32'),
    windowStart(s),
    ...initState(s),
    loop('p0', v('lo'), v('ctx'), [
      local('p1', imin(add(v('p0'), KV_TILE), v('ctx')), 'i32'),
      ...visitTile(s, v('p0'), v('p1')),
    ], { step: KV_TILE }),
    loop('j', 0, s.group, [loop('i', 0, hs, [
      store('out', add(add(mul(v('t'), s.width), mul(add(mul(v('g'), s.group), v('j')), hs)),
        v('i')), div(load('acc', add(mul(v('j'), hs), v('i'))), load('l', v('j')))),
    ])]),
  ], { parallel: true });
}

/** Split-KV decode: partials per (kv head, tile) into scratch, then a merge per head. */
function decode(s: Shape): KStmt[] {
  const hs = s.headSize;
  const stride = hs + 2; // one partial: m, l, acc[hs]
  const slot = (g: KExpr, sp: KExpr, j: KExpr) =>
    mul(add(mul(add(mul(g, v('splits')), sp), s.group), j), stride);
  return [
    local('t', int(0), 'i32'),
    local('ctx', add(v('pos'), 1), 'i32'),
    windowStart(s),
    local('splits', div(add(sub(v('ctx'), v('lo')), KV_TILE - 1), KV_TILE), 'i32'),
    loop('task', 0, mul(int(s.kvHeads), v('splits')), [
      local('g', div(v('task'), v('splits')), 'i32'),
      local('sp', mod(v('task'), v('splits')), 'i32'),
      local('p0', add(v('lo'), mul(v('sp'), KV_TILE)), 'i32'),
      local('p1', imin(add(v('p0'), KV_TILE), v('ctx')), 'i32'),
      ...initState(s),
      ...visitTile(s, v('p0'), v('p1')),
      loop('j', 0, s.group, [
        local('at', slot(v('g'), v('sp'), v('j')), 'i32'),
        store('scratch', v('at'), load('m', v('j'))),
        store('scratch', add(v('at'), 1), load('l', v('j'))),
        loop('i', 0, hs, [store('scratch', add(add(v('at'), 2), v('i')),
          load('acc', add(mul(v('j'), hs), v('i'))))]),
      ]),
    ], { parallel: true }),
    loop('h', 0, s.heads, [
      local('g', div(v('h'), s.group), 'i32'),
      local('j', mod(v('h'), s.group), 'i32'),
      local('m_all', float(-Infinity)),
      loop('sp', 0, v('splits'), [set('m_all', max(v('m_all'),
        load('scratch', slot(v('g'), v('sp'), v('j')))))]),
      local('l_all', float(0)),
      { k: 'array', name: 'o', size: hs, zero: true },
      loop('sp', 0, v('splits'), [
        local('at', slot(v('g'), v('sp'), v('j')), 'i32'),
        local('w', call('exp', sub(load('scratch', v('at')), v('m_all')))),
        set('l_all', add(v('l_all'), mul(load('scratch', add(v('at'), 1)), v('w')))),
        loop('i', 0, hs, [store('o', v('i'), add(load('o', v('i')),
          mul(load('scratch', add(add(v('at'), 2), v('i'))), v('w'))))]),
      ]),
      loop('i', 0, hs, [store('out', add(mul(v('h'), hs), v('i')),
        div(load('o', v('i')), v('l_all')))]),
    ], { parallel: true }),
  ];
}

export function attention(node: Node, { graph, target }: LowerContext): Kernel {
  const heads = node.attrs.n_heads as number;
  const kvHeads = node.attrs.n_kv_heads as number;
  const width = node.type.shape[1] as number;
  const headSize = width / heads;
  const window = (node.attrs.window as number | undefined) ?? 0;
  const s: Shape = { heads, kvHeads, group: heads / kvHeads, headSize, width,
    kvWidth: headSize * kvHeads, lanes: target.lanes, window };
  const maxContext = graph.nodes[node.inputs[1]!]!.type.shape[0] as number;
  const splits = Math.ceil(maxContext / KV_TILE);
  return {
    name: `attention_${heads}x${kvHeads}x${headSize}_ctx${maxContext}` +
      (window === 0 ? '' : `_win${window}`),
    doc: `out[n, ${width}] = causal softmax(q·kᵀ/√${headSize})·v, ${heads} heads over ` +
      `${kvHeads} kv heads, kv tiles of ${KV_TILE}`,
    params: [{ name: 'out', type: 'f32', out: true }, { name: 'q', type: 'f32', out: false },
      { name: 'k', type: 'f32', out: false }, { name: 'v', type: 'f32', out: false },
      { name: 'scratch', type: 'f32', out: true }],
    scratch: kvHeads * splits * s.group * (headSize + 2),
    body: [when(v('n'), '==', int(1), decode(s), [prefill(s)])],
  };
}
