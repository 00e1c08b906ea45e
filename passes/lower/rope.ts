// RoPE with the optional attributes (ir/rope.ts): a rotated part of each head (rot_dims),
// GPT-NeoX pairing (x[j], x[j + rot/2]), and the frequency-scaling families. A node with
// none of them lowers to the original kernel in kernels.ts instead (same loops as before).
//
// Per token, the cos/sin table of its position is built once (angles in f64) and every head
// reuses it. inv_freq[j] = theta^(-2j/rot) · gain[j]: the gains are per-pair constants,
// stored into a local table by unrolled statements (only those that are not 1), so every
// scaling family is the same loop. Dims past rot_dims are copied unchanged. `rope_table`
// (fuse-rope) writes the same angles' cos and sin once per step, for the projections that
// rotate in their epilogue.

import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel } from '../../ir/kernel.js';
import {
  add, call, div, float, int, load, local, loop, mul, store, sub, v,
} from '../../ir/kernel.js';
import type { RopeFrequencies } from '../../ir/rope.js';
import { ropeFrequencies } from '../../ir/rope.js';
import { arg, dim, out } from './kernels.js';

const f64 = (value: KExpr): KExpr => ({ k: 'cast', to: 'f64', value });
const f32 = (value: KExpr): KExpr => ({ k: 'cast', to: 'f32', value });

/** A short, stable name part for the attributes that change the loops. */
function variant(node: Node): string {
  const keys = Object.keys(node.attrs).filter((k) => k !== 'head_size' && k !== 'theta').sort();
  const text = keys.map((k) => `${k}${String(node.attrs[k])}`).join('_');
  return text.replace(/[^A-Za-z0-9]/g, '_');
}

/**
 * The step's angles for a fused RoPE (rms_matmul_rope): row t holds cos of every pair in
 * columns 0 .. rot/2 − 1 and sin after them, computed as scaledRope computes them, so the
 * fused and unfused rotations agree to the bit.
 */
export function ropeTable(node: Node): Kernel {
  const hs = node.attrs.head_size as number;
  const r = ropeFrequencies(node.attrs);
  const row = mul(v('t'), r.rot);
  return {
    name: `rope_table_${hs}_${String(r.theta).replace(/[.-]/g, '_')}_${variant(node)}`,
    doc: `out[n, ${r.rot}] = cos | sin of (pos + t) · inv_freq[j], head_size ${hs}, ` +
      `rot_dims ${r.rot}, theta ${r.theta}`,
    params: [out(), arg('ids', 'i32')],
    body: [loop('t', 0, v('n'), angles(r, (cos, sin) => [
      store('out', add(row, v('j')), cos),
      store('out', add(add(row, r.rot / 2), v('j')), sin),
    ]), { parallel: true })],
  };
}

/**
 * Token t's angle for every pair j, as `(pos + t) · theta^(-2j / rot) · gain[j]` in f64
 * (the gains: per-pair constants in a local table, only those that are not 1 stored by
 * unrolled statements), handed to `use` as f32 cos and sin.
 */
function angles(r: RopeFrequencies, use: (cos: KExpr, sin: KExpr) => KStmt[]): KStmt[] {
  const half = r.rot / 2;
  const gains: KStmt[] = [loop('j', 0, half, [store('g', v('j'), float(1))])];
  r.gain.forEach((g, j) => {
    if (g !== 1) gains.push(store('g', int(j), float(g)));
  });
  const trig = (fn: 'cos' | 'sin') => {
    const value = f32(call(fn, v('angle')));
    return r.mscale === 1 ? value : mul(value, float(r.mscale));
  };
  return [
    { k: 'array', name: 'g', size: half, zero: false },
    ...gains,
    loop('j', 0, half, [
      local('angle', mul(mul(f64(add(v('pos'), v('t'))),
        call('pow', float(r.theta), div(f64(sub(0, mul(v('j'), 2))), float(r.rot)))),
      f64(load('g', v('j')))), 'f64'),
      ...use(trig('cos'), trig('sin')),
    ]),
  ];
}

export function scaledRope(node: Node): Kernel {
  const width = dim(node, 1);
  const hs = node.attrs.head_size as number;
  const r = ropeFrequencies(node.attrs);
  const half = r.rot / 2;
  const at = (e: KExpr) => add(add(mul(v('t'), width), v('h')), e);
  const [a, b] = r.neox ? [v('j'), add(v('j'), half)] : [mul(v('j'), 2), add(mul(v('j'), 2), 1)];
  const rotate: KStmt[] = [loop('j', 0, half, [
    local('c', load('cs', v('j'))),
    local('s', load('sn', v('j'))),
    local('x0', load('x', at(a))),
    local('x1', load('x', at(b))),
    store('out', at(a), sub(mul(v('x0'), v('c')), mul(v('x1'), v('s')))),
    store('out', at(b), add(mul(v('x0'), v('s')), mul(v('x1'), v('c')))),
  ])];
  if (r.rot < hs) {
    rotate.push(loop('i', r.rot, hs, [store('out', at(v('i')), load('x', at(v('i'))))]));
  }
  return {
    name: `rope_${width}_${hs}_${String(r.theta).replace(/[.-]/g, '_')}_${variant(node)}`,
    doc: `out[n, ${width}] = x rotated in ${r.neox ? 'halves' : 'adjacent pairs'}, head_size ` +
      `${hs}, rot_dims ${r.rot}, theta ${r.theta}, scaled frequencies`,
    params: [out(), arg('x')],
    body: [loop('t', 0, v('n'), [
      // this token's table
      { k: 'array', name: 'cs', size: half, zero: false },
      { k: 'array', name: 'sn', size: half, zero: false },
      ...angles(r, (cos, sin) => [store('cs', v('j'), cos), store('sn', v('j'), sin)]),
      // rotate every head's pairs; copy the dims past rot_dims
      loop('h', 0, width, rotate, { step: hs }),
    ], { parallel: true })],
  };
}
