// FlashAttention-style causal grouped-query attention over the KV cache.
//
// The caches are head-major (ir/layout.ts `heads`; chosen by cacheLayouts, written so by
// kv_write), so a kv head's positions are one contiguous run, and the K cache is in panels
// of L positions: kp[g][p / L][c][p mod L] = k[p, g·S + c]. A vector load is dimension c of
// L consecutive keys, and scores need no horizontal sums: s[p..p+L] += q[c]·kp[g][p / L][c]
// over the head's c, a broadcast FMA per dimension. Values are rows per head,
// vh[g][p][c] = v[p, g·S + c], and the weighted sum acc += e[p]·vh[g][p] is a broadcast FMA
// over the head's dimensions.
//
// Keys and values are visited in tiles of B positions. A task owns one kv head g and its
// G = n_heads / n_kv_heads query heads for one or more tokens; its rows are (token, head).
// All G heads of a token are computed together in register tiles (heads × key vectors for
// scores, heads × value vectors for the sums; as many accumulators as the target's matmul
// tile: enough FMA chains in flight), so every K and V vector loaded serves all of them,
// and a whole K/V tile (B·head_size floats, L1-sized) serves every token of the task. Per
// row it keeps a running max m, a running sum l and the weighted sum of values acc,
// rescaled by exp(m_old − m_new) when a tile raises the max (the online softmax). Scores
// live only in a [G, B] tile, never in a [seq, ctx] matrix; their exponentials are the
// vector exp.
//
//   prefill (n > 1)  one task per (block of TQ tokens, kv head); a token's tile ends at its
//                    causal limit pos + t + 1, so the future is skipped, not masked; with a
//                    sliding window, positions before the window are masked in the one
//                    tile that straddles its start
//   decode  (n = 1)  split-KV: one task per (kv head, tile), each writing its partial
//                    (m, l, acc) per head to scratch; a second parallel loop merges the
//                    tiles per head. This gives n_kv_heads × ceil(ctx / B) tasks. On targets
//                    that ask for it (wasm) a task first touches its tile's cache lines.
//
// The order of every sum is fixed by B, L and the position, never by the thread count.

import { InternalError } from '../../ir/diagnostics.js';
import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel, KernelParam } from '../../ir/kernel.js';
import {
  add, call, div, float, hsum, imin, int, lane, load, local, loop, max, mod, mul, prefetch, set,
  splat, store, sub, v, when,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';

/** Key/value positions per tile. */
export const KV_TILE = 128;
/** Query tokens per prefill task. */
const TQ = 4;
/** Query heads in one register tile. */
const MAX_HEADS = 4;

interface Shape {
  heads: number;
  group: number; // G: query heads per kv head
  headSize: number;
  width: number; // heads × headSize
  context: number; // positions in a cache
  lanes: number;
  /** Accumulators a register tile aims for (the target's matmul tile): FMA chains in flight. */
  chains: number;
  /** Sliding window: positions each token sees, itself included; 0 = all. */
  window: number;
  /** Decode prefetches each KV tile (Target.prefetchKv). */
  prefetch: boolean;
}

/**
 * Element (position p, column c of head h) of a cache stored heads(S, L) with `context`
 * positions: packed[h][p / L][c][p mod L] (ir/layout.ts). kv_write and attention share it.
 */
export function headsIndex(layout: { size: number; lanes: number }, context: number, h: KExpr,
  p: KExpr, c: KExpr): KExpr {
  const { size, lanes } = layout;
  const panels = Math.ceil(context / lanes);
  return add(mul(add(mul(add(mul(h, panels), div(p, lanes)), size), c), lanes), mod(p, lanes));
}

/** The first position a token sees when it sees positions below `limit` (0: no window). */
const windowStart = (s: Shape, limit: KExpr): KExpr =>
  (s.window === 0 ? int(0) : sub(limit, imin(limit, int(s.window))));

const range = (n: number, from = 0) => [...Array(n).keys()].map((i) => from + i);

/** The group's heads 0..G−1 in register tiles of at most MAX_HEADS. */
function headTiles(s: Shape): number[][] {
  const tiles: number[][] = [];
  for (let j = 0; j < s.group; j += MAX_HEADS) {
    tiles.push(range(Math.min(MAX_HEADS, s.group - j), j));
  }
  return tiles;
}

/**
 * One token's scores against keys [p0, p0 + len), every head j of the group into
 * sc[j·B ..], scaled by 1/√head_size. `qAt(j)` is head j's first element in q. Per tile of
 * heads: chunks of key vectors (heads × vectors accumulators), single vectors, then the
 * last keys one by one.
 */
function scores(s: Shape, qAt: (j: number) => KExpr): KStmt[] {
  const hs = s.headSize;
  const L = s.lanes;
  const scale = float(1 / Math.sqrt(hs));
  // key p0 + c, dimension i of head g (p0 and, for a vector, c are multiples of L)
  const key = (i: KExpr, c: KExpr, lanes: number) => load('k',
    headsIndex({ size: hs, lanes: L }, s.context, v('g'), add(v('p0'), c), i), lanes);
  const block = (heads: number[], vectors: number): KStmt[] => {
    const acc = (j: number, u: number) => `s${j}_${u}`;
    const at = (j: number, u: number) => add(add(mul(j, KV_TILE), v('c')), u * L);
    return [
      ...heads.flatMap((j) => range(vectors).map((u) =>
        local(acc(j, u), splat(float(0), L), 'f32', L))),
      loop('i', 0, hs, [
        ...range(vectors).map((u) => local(`k${u}`, key(v('i'), add(v('c'), u * L), L), 'f32', L)),
        ...heads.flatMap((j) => [
          local(`q${j}`, splat(load('q', add(qAt(j), v('i'))), L), 'f32', L),
          ...range(vectors).map((u) =>
            set(acc(j, u), add(v(acc(j, u)), mul(v(`q${j}`), v(`k${u}`))))),
        ]),
      ]),
      ...heads.flatMap((j) => range(vectors).map((u) =>
        store('sc', at(j, u), mul(v(acc(j, u)), splat(scale, L)), L))),
    ];
  };
  return headTiles(s).flatMap((heads, tile) => {
    const vectors = Math.max(1, Math.floor(s.chains / heads.length));
    const chunked = `chunked${tile}`;
    return [
      local(chunked, sub(v('len'), mod(v('len'), vectors * L)), 'i32'),
      loop('c', 0, v(chunked), block(heads, vectors), { step: vectors * L }),
      loop('c', v(chunked), v('vectored'), block(heads, 1), { step: L }),
      loop('c', v('vectored'), v('len'), heads.flatMap((j) => [
        local(`dot${j}`, float(0)),
        loop('i', 0, hs, [set(`dot${j}`, add(v(`dot${j}`), mul(load('q', add(qAt(j), v('i'))),
          key(v('i'), v('c'), 1))))]),
        store('sc', add(j * KV_TILE, v('c')), mul(v(`dot${j}`), scale)),
      ])),
    ];
  });
}

/**
 * Online softmax over sc[j·B .. + len) for each head j of the token (row `row + j`):
 * updates m and l, leaves the exponentials in sc and the rescale factor in rescale[j].
 */
function softmax(s: Shape, row: KExpr): KStmt[] {
  const L = s.lanes;
  const r = add(row, v('j'));
  const tile = (c: KExpr, lanes = L) => load('sc', add(mul(v('j'), KV_TILE), c), lanes);
  const lanes = L === 1 ? [set('mx', max(v('mx'), v('mv')))]
    : range(L).map((l) => set('mx', max(v('mx'), lane(v('mv'), l))));
  return [loop('j', 0, s.group, [
    local('mv', splat(float(-Infinity), L), 'f32', L),
    loop('c', 0, v('vectored'), [set('mv', max(v('mv'), tile(v('c'))))], { step: L }),
    local('mx', float(-Infinity)),
    ...lanes,
    loop('c', v('vectored'), v('len'), [set('mx', max(v('mx'), tile(v('c'), 1)))]),
    local('m_new', max(load('m', r), v('mx'))),
    store('rescale', v('j'), call('exp', sub(load('m', r), v('m_new')))),
    local('ev', splat(float(0), L), 'f32', L),
    loop('c', 0, v('vectored'), [
      local('e', call('exp', sub(tile(v('c')), splat(v('m_new'), L))), 'f32', L),
      store('sc', add(mul(v('j'), KV_TILE), v('c')), v('e'), L),
      set('ev', add(v('ev'), v('e'))),
    ], { step: L }),
    local('sum', L === 1 ? v('ev') : hsum(v('ev'), L)),
    loop('c', v('vectored'), v('len'), [
      local('e1', call('exp', sub(tile(v('c'), 1), v('m_new')))),
      store('sc', add(mul(v('j'), KV_TILE), v('c')), v('e1')),
      set('sum', add(v('sum'), v('e1'))),
    ]),
    store('l', r, add(mul(load('l', r), load('rescale', v('j'))), v('sum'))),
    store('m', r, v('m_new')),
  ])];
}

/**
 * acc[row + j] = acc[row + j]·rescale[j] + Σ_c sc[j·B + c]·v[p0 + c, g·hs ..] for every head
 * j, in register tiles of heads × value vectors (value loads shared by the heads).
 */
function values(s: Shape, row: KExpr): KStmt[] {
  const hs = s.headSize;
  const L = s.lanes;
  const body = hs - (hs % L);
  const value = (d: number, lanes: number) => load('v',
    headsIndex({ size: hs, lanes: 1 }, s.context, v('g'), add(v('p0'), v('c')), int(d)), lanes);
  const accAt = (j: number, d: number) => add(mul(add(row, j), hs), d);
  const sweep = (heads: number[], dims: number[], lanes: number): KStmt[] => {
    const name = (j: number, d: number) => `a${j}_${d}`;
    const widen = (e: KExpr) => (lanes === 1 ? e : splat(e, lanes));
    return [
      ...heads.flatMap((j) => dims.map((d) => local(name(j, d),
        mul(load('acc', accAt(j, d), lanes), widen(load('rescale', int(j)))), 'f32', lanes))),
      loop('c', 0, v('len'), [
        ...dims.map((d) => local(`v${d}`, value(d, lanes), 'f32', lanes)),
        ...heads.flatMap((j) => [
          local(`e${j}`, widen(load('sc', add(j * KV_TILE, v('c')))), 'f32', lanes),
          ...dims.map((d) => set(name(j, d), add(v(name(j, d)), mul(v(`e${j}`), v(`v${d}`))))),
        ]),
      ]),
      ...heads.flatMap((j) => dims.map((d) => store('acc', accAt(j, d), v(name(j, d)), lanes))),
    ];
  };
  return headTiles(s).flatMap((heads) => {
    const perSweep = Math.max(1, Math.floor(s.chains / heads.length));
    const stmts: KStmt[] = [];
    for (let d0 = 0; d0 < body; d0 += perSweep * L) {
      const dims = range(Math.min(perSweep, (body - d0) / L)).map((u) => d0 + u * L);
      stmts.push(...sweep(heads, dims, L));
    }
    if (body < hs) stmts.push(...sweep(heads, range(hs - body, body), 1));
    return stmts;
  });
}

/**
 * Running state of `rows` rows (token × head of the group): m = −∞, l = 0, acc = 0; the
 * score tile and rescale factors of one token's heads.
 */
function initState(s: Shape, rows: number): KStmt[] {
  return [
    { k: 'array', name: 'm', size: rows, zero: false },
    { k: 'array', name: 'l', size: rows, zero: true },
    { k: 'array', name: 'acc', size: rows * s.headSize, zero: true },
    { k: 'array', name: 'sc', size: s.group * KV_TILE, zero: false },
    { k: 'array', name: 'rescale', size: s.group, zero: false },
    loop('r', 0, rows, [store('m', v('r'), float(-Infinity))]),
  ];
}

/**
 * Token t (rows row .. row + G − 1) visits keys [p0, end) — from `lo` on, with a window:
 * scores, softmax, values.
 */
function visitToken(s: Shape, t: KExpr, row: KExpr, end: KExpr): KStmt[] {
  const L = s.lanes;
  // with a window, the tile's positions before `lo` (at least one position after it is
  // seen) are masked: their exponentials are 0
  const mask = s.window === 0 ? [] : [loop('c', 0, sub(v('lo'), v('p0')),
    range(s.group).map((j) => store('sc', add(j * KV_TILE, v('c')), float(-Infinity))))];
  return [
    local('len', sub(end, v('p0')), 'i32'),
    local('vectored', sub(v('len'), mod(v('len'), L)), 'i32'),
    ...scores(s, (j) => queryAt(s, t, int(j))),
    ...mask,
    ...softmax(s, row),
    ...values(s, row),
  ];
}

/** q's first element of token t, head j of kv group g. */
const queryAt = (s: Shape, t: KExpr, j: KExpr) =>
  mul(add(mul(t, s.heads), add(mul(v('g'), s.group), j)), s.headSize);

function prefill(s: Shape, kvHeads: number): KStmt {
  const hs = s.headSize;
  return loop('task', 0, mul(div(add(v('n'), TQ - 1), TQ), kvHeads), [
    local('t0', mul(div(v('task'), kvHeads), TQ), 'i32'),
    local('g', mod(v('task'), kvHeads), 'i32'),
    local('tokens', sub(imin(add(v('t0'), TQ), v('n')), v('t0')), 'i32'),
    ...initState(s, TQ * s.group),
    // token t sees positions lo .. pos + t (lo = 0 without a window); the block's tiles run
    // from the first token's lo to the last token's position
    local('first', mul(div(windowStart(s, add(add(v('pos'), v('t0')), 1)), KV_TILE), KV_TILE),
      'i32'),
    loop('p0', v('first'), add(add(v('pos'), v('t0')), v('tokens')), [
      loop('tt', 0, v('tokens'), [
        local('limit', add(add(add(v('pos'), v('t0')), v('tt')), 1), 'i32'),
        local('lo', windowStart(s, v('limit')), 'i32'),
        when(v('p0'), '<', v('limit'), [when(v('lo'), '<', add(v('p0'), KV_TILE),
          visitToken(s, add(v('t0'), v('tt')), mul(v('tt'), s.group),
            imin(add(v('p0'), KV_TILE), v('limit'))))]),
      ]),
    ], { step: KV_TILE }),
    loop('r', 0, mul(v('tokens'), s.group), [
      local('inv', div(float(1), load('l', v('r')))),
      local('at', queryAt(s, add(v('t0'), div(v('r'), s.group)), mod(v('r'), s.group)), 'i32'),
      loop('d', 0, hs, [store('out', add(v('at'), v('d')),
        mul(load('acc', add(mul(v('r'), hs), v('d'))), v('inv')))]),
    ]),
  ], { parallel: true });
}

/**
 * Asks for the keys and values of the tile at p0 (head g) before its first score. At a long
 * context they come from DRAM: between two steps every weight streams through the caches.
 * Each is one contiguous run of the head-major cache.
 */
function prefetchTile(s: Shape): KStmt[] {
  const count = mul(sub(imin(add(v('p0'), KV_TILE), v('ctx')), v('p0')), s.headSize);
  const start = (lanes: number) => headsIndex({ size: s.headSize, lanes }, s.context, v('g'),
    v('p0'), int(0));
  return [prefetch('k', start(s.lanes), count, 'line'), prefetch('v', start(1), count, 'line')];
}

/** Split-KV decode: partials per (kv head, tile) into scratch, then a merge per head. */
function decode(s: Shape, kvHeads: number, write: KStmt[]): KStmt[] {
  const hs = s.headSize;
  const stride = hs + 2; // one partial: m, l, acc[hs]
  const slot = (g: KExpr, sp: KExpr, j: KExpr) =>
    mul(add(mul(add(mul(g, v('splits')), sp), s.group), j), stride);
  return [
    local('ctx', add(v('pos'), 1), 'i32'),
    local('lo', windowStart(s, v('ctx')), 'i32'),
    // the tiles that hold positions lo .. ctx − 1
    local('first', div(v('lo'), KV_TILE), 'i32'),
    local('splits', sub(div(add(v('ctx'), KV_TILE - 1), KV_TILE), v('first')), 'i32'),
    loop('task', 0, mul(int(kvHeads), v('splits')), [
      local('g', div(v('task'), v('splits')), 'i32'),
      local('sp', mod(v('task'), v('splits')), 'i32'),
      local('p0', mul(add(v('first'), v('sp')), KV_TILE), 'i32'),
      ...initState(s, s.group),
      ...write,
      ...(s.prefetch ? prefetchTile(s) : []),
      ...visitToken(s, int(0), int(0), imin(add(v('p0'), KV_TILE), v('ctx'))),
      loop('r', 0, s.group, [
        local('at', slot(v('g'), v('sp'), v('r')), 'i32'),
        store('scratch', v('at'), load('m', v('r'))),
        store('scratch', add(v('at'), 1), load('l', v('r'))),
        loop('d', 0, hs, [store('scratch', add(add(v('at'), 2), v('d')),
          load('acc', add(mul(v('r'), hs), v('d'))))]),
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
        loop('d', 0, hs, [store('o', v('d'), add(load('o', v('d')),
          mul(load('scratch', add(add(v('at'), 2), v('d'))), v('w'))))]),
      ]),
      loop('d', 0, hs, [store('out', add(mul(v('h'), hs), v('d')),
        div(load('o', v('d')), v('l_all')))]),
    ], { parallel: true }),
  ];
}

/**
 * Row t of the step's new keys and values, kv head g, into the caches at position pos + t
 * (attention_kv: the writes fused in).
 */
function writeRow(s: Shape, kvHeads: number, t: KExpr): KStmt {
  const hs = s.headSize;
  const at = (lanes: number) => headsIndex({ size: hs, lanes }, s.context, v('g'),
    add(v('pos'), t), v('c'));
  const row = add(mul(t, kvHeads * hs), add(mul(v('g'), hs), v('c')));
  return loop('c', 0, hs, [store('k', at(s.lanes), load('k_rows', row)),
    store('v', at(1), load('v_rows', row))]);
}

/**
 * The tiled attention of `node`: `attention` over the results of two kv_writes, or
 * `attention_kv`, which writes the step's rows itself. A decode step's row is written by
 * the task of each kv head that owns the last tile, just before it reads the tile (no other
 * task reads that position); a prefill writes all rows in a first parallel loop.
 */
export function attention(node: Node, { graph, target, layouts }: LowerContext): Kernel {
  const heads = node.attrs.n_heads as number;
  const window = (node.attrs.window as number | undefined) ?? 0;
  const kvHeads = node.attrs.n_kv_heads as number;
  const width = node.type.shape[1] as number;
  const headSize = width / heads;
  const fused = node.op === 'attention_kv';
  const [keys, values] = fused ? [node.inputs[3]!, node.inputs[4]!]
    : [1, 2].map((i) => graph.nodes[node.inputs[i]!]!)
      .map((w) => (w.op === 'kv_write' ? w.inputs[0]! : -1));
  const context = graph.nodes[node.inputs[fused ? 3 : 1]!]!.type.shape[0] as number;
  const [kLayout, vLayout] = [layouts.get(keys!), layouts.get(values!)];
  if (kLayout?.kind !== 'heads' || kLayout.lanes !== target.lanes ||
    vLayout?.kind !== 'heads' || vLayout.lanes !== 1) {
    throw new InternalError('lower', `%${node.id} ${node.op} needs head-major caches`);
  }
  const s: Shape = { heads, group: heads / kvHeads, headSize, width, context,
    lanes: target.lanes,
    chains: target.tile.rows * target.tile.cols, window, prefetch: target.prefetchKv };
  const splits = Math.ceil(context / KV_TILE);
  const f32 = (name: string, out = false): KernelParam => ({ name, type: 'f32', out });
  const write = fused ? [when(v('sp'), '==', sub(v('splits'), 1), [writeRow(s, kvHeads, int(0))])]
    : [];
  const writeAll = fused ? [loop('task', 0, mul(v('n'), kvHeads), [
    local('t', div(v('task'), kvHeads), 'i32'),
    local('g', mod(v('task'), kvHeads), 'i32'),
    writeRow(s, kvHeads, v('t')),
  ], { parallel: true })] : [];
  return {
    name: `attention${fused ? '_kv' : ''}_${heads}x${kvHeads}x${headSize}_ctx${context}` +
      (window === 0 ? '' : `_win${window}`),
    doc: `out[n, ${width}] = causal softmax(q·kᵀ/√${headSize})·v, ${heads} heads over ` +
      `${kvHeads} kv heads, head-major caches${fused ? ' (the step\'s rows written first)' : ''}` +
      `, kv tiles of ${KV_TILE}`,
    params: [f32('out', true), f32('q'),
      ...(fused ? [f32('k_rows'), f32('v_rows'), f32('k', true), f32('v', true)]
        : [f32('k'), f32('v')]),
      f32('scratch', true)],
    scratch: kvHeads * splits * s.group * (headSize + 2),
    body: [when(v('n'), '==', int(1), decode(s, kvHeads, write),
      [...writeAll, prefill(s, kvHeads)])],
  };
}
