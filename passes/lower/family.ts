// Kernels of the primitives other model families need (GPT-2, Qwen2, Gemma, Phi-3): one
// parallel loop over the step's tokens, plain per-element loops inside. None is fused yet;
// they are memory-bound passes over one [n, dim] row block each.
//
//   layernorm  out = (x − mean) / √(var + eps) · weight + bias   mean and variance in two
//              passes over the row, each a vector sum in a fixed order
//   add_bias   out = x + bias
//   gelu       out = x · sigmoid(2·√(2/π)·(x + 0.044715·x³))   (= the tanh form; tanh(u) =
//              2·sigmoid(2u) − 1, so only `exp` is needed from the renderers)
//   pos_embed  out = x + table[pos + t]
//   slice      out = x[:, start .. start + size]
//   scale      out = x · by
//   softcap    out = cap · tanh(x / cap) = cap · (1 − 2 / (exp(2x / cap) + 1))

import type { Node } from '../../ir/graph.js';
import type { KExpr, KStmt, Kernel, KernelParam } from '../../ir/kernel.js';
import {
  add, call, div, float, hsum, load, local, loop, mul, set, splat, store, sub, v,
} from '../../ir/kernel.js';
import type { LowerContext } from './kernels.js';
import { arg, dim, out } from './kernels.js';

/** A name part for a float constant: 1e-05 → 1e_05. */
const tag = (x: number) => String(x).replace(/[.-]/g, '_');

/** for t (parallel) { per-row statements } */
const perToken = (body: KStmt[]): KStmt[] => [loop('t', 0, v('n'), body, { parallel: true })];

/** out[t, i] = value(x[t, i], i) for every element of an [n, d] block. */
function map(name: string, doc: string, d: number, params: KernelParam[],
  value: (x: KExpr, i: KExpr) => KExpr, xWidth = d, xStart = 0): Kernel {
  const x = load('x', add(add(mul(v('t'), xWidth), xStart), v('i')));
  return {
    name, doc, params: [out(), ...params],
    body: perToken([loop('i', 0, d, [store('out', add(mul(v('t'), d), v('i')),
      value(x, v('i')))])]),
  };
}

const neg = (e: KExpr) => sub(float(0), e);

/** `name` = Σ f(i) over i < len: `lanes`-wide partial sums, then a scalar tail. */
export function rowSum(name: string, f: (i: KExpr, lanes: number) => KExpr, len: number,
  lanes: number): KStmt[] {
  const body = len - (len % lanes);
  const stmts: KStmt[] = [local(name, float(0))];
  if (body > 0) {
    stmts.push(local(`${name}_v`, splat(float(0), lanes), 'f32', lanes),
      loop(`i_${name}`, 0, body, [set(`${name}_v`, add(v(`${name}_v`), f(v(`i_${name}`), lanes)))],
        { step: lanes }),
      set(name, hsum(v(`${name}_v`), lanes)));
  }
  if (body < len) {
    stmts.push(loop(`j_${name}`, body, len, [set(name, add(v(name), f(v(`j_${name}`), 1)))]));
  }
  return stmts;
}

function layernorm(node: Node, { target }: LowerContext): Kernel {
  const d = dim(node, 1);
  const eps = node.attrs.eps as number;
  const x = (i: KExpr, l: number) => load('x', add(mul(v('t'), d), i), l);
  // the centred row is rebuilt from x and the mean in both passes (no scratch row)
  const centred = (i: KExpr, l: number) => sub(x(i, l), l === 1 ? v('mean') : splat(v('mean'), l));
  return {
    name: `layernorm_${d}_${tag(eps)}`,
    doc: `out[n, ${d}] = (x − mean) / sqrt(var + ${eps}) · weight + bias`,
    params: [out(), arg('x'), arg('weight'), arg('bias')],
    body: perToken([
      ...rowSum('sum', x, d, target.lanes),
      local('mean', div(v('sum'), float(d))),
      ...rowSum('sq', (i, l) => mul(centred(i, l), centred(i, l)), d, target.lanes),
      local('scale', div(float(1), call('sqrt', add(div(v('sq'), float(d)), float(eps))))),
      loop('i', 0, d, [store('out', add(mul(v('t'), d), v('i')), add(mul(mul(
        centred(v('i'), 1), v('scale')), load('weight', v('i'))), load('bias', v('i'))))]),
    ]),
  };
}

function addBias(node: Node): Kernel {
  const d = dim(node, 1);
  return map(`add_bias_${d}`, `out[n, ${d}] = x + bias[${d}]`, d, [arg('x'), arg('bias')],
    (x, i) => add(x, load('bias', i)));
}

function gelu(node: Node): Kernel {
  const d = dim(node, 1);
  const c = 2 * Math.sqrt(2 / Math.PI);
  return map(`gelu_${d}`, `out[n, ${d}] = gelu(x), tanh approximation`, d, [arg('x')],
    (x) => div(x, add(float(1), call('exp', neg(mul(float(c),
      add(x, mul(float(0.044715), mul(x, mul(x, x))))))))));
}

function posEmbed(node: Node): Kernel {
  const d = dim(node, 1);
  return map(`pos_embed_${d}`, `out[n, ${d}] = x + table[pos + t, :]`, d,
    [arg('x'), arg('table')],
    (x, i) => add(x, load('table', add(mul(add(v('pos'), v('t')), d), i))));
}

function slice(node: Node, { graph }: LowerContext): Kernel {
  const size = dim(node, 1);
  const width = dim(graph.nodes[node.inputs[0]!]!, 1);
  const start = node.attrs.start as number;
  return map(`slice_${width}_${start}_${size}`, `out[n, ${size}] = x[n, ${start}:${start + size}]`,
    size, [arg('x')], (x) => x, width, start);
}

function scale(node: Node): Kernel {
  const d = dim(node, 1);
  const by = node.attrs.by as number;
  return map(`scale_${d}_${tag(by)}`, `out[n, ${d}] = x · ${by}`, d, [arg('x')],
    (x) => mul(x, float(by)));
}

function softcap(node: Node): Kernel {
  const d = dim(node, 1);
  const cap = node.attrs.cap as number;
  return map(`softcap_${d}_${tag(cap)}`, `out[n, ${d}] = ${cap} · tanh(x / ${cap})`, d,
    [arg('x')], (x) => mul(float(cap), sub(float(1), div(float(2),
      add(call('exp', mul(x, float(2 / cap))), float(1))))));
}

export const FAMILY_GENERATORS = {
  layernorm, add_bias: addBias, gelu, pos_embed: posEmbed, slice, scale, softcap,
} as const;
