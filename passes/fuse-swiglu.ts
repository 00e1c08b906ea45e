// SwiGLU fusion: the gate and up projections of one normalized input, the SiLU and the
// product become one kernel that reads the input once and writes only the product.
//
//   %a = rms_matmul %x, %g, %w1                   
//   %b = rms_matmul %x, %g, %w3              →    %d = swiglu_matmul %x, %g, %w1, %w3
//   %c = silu %a
//   %d = mul %c, %b            (or mul %b, %c)
//
// Preconditions: runs after fuse-norm; both projections share x, gain and eps, have the
// same width, and are read only by this silu / mul. Unnormalized gates (plain matmul) are
// left alone and reported.

import type { Graph, Node } from '../ir/graph.js';
import type { Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import type { FusionReport } from './report.js';

export const NAME = 'fuse-swiglu';

const sameInput = (a: Node, b: Node) =>
  a.inputs[0] === b.inputs[0] && a.inputs[1] === b.inputs[1] && a.attrs.eps === b.attrs.eps;

export function fuseSwiglu(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const only = (id: number, reader: number) => users[id]!.length === 1 && users[id]![0] === reader;
  const replacements = new Map<number, Replacement>();
  for (const mul of graph.nodes) {
    if (mul.op !== 'mul') continue;
    const [a, b] = mul.inputs.map((i) => graph.nodes[i]!) as [Node, Node];
    const [silu, up] = a.op === 'silu' || a.op === 'gelu' ? [a, b] : [b, a];
    if (silu.op === 'gelu') {
      report.declined(NAME, [silu, up, mul], 'the gate is gelu (GeGLU); swiglu_matmul ' +
        'applies silu only');
      continue;
    }
    if (silu.op !== 'silu') continue;
    const gate = graph.nodes[silu.inputs[0]!]!;
    if (gate.op !== 'rms_matmul' || up.op !== 'rms_matmul') {
      report.declined(NAME, [gate, silu, up, mul], 'gate and up are not both normalized matmuls');
      continue;
    }
    if (!sameInput(gate, up) || !only(gate.id, silu.id) || !only(silu.id, mul.id) ||
      !only(up.id, mul.id)) {
      report.declined(NAME, [gate, silu, up, mul],
        'gate and up differ in input, or an intermediate has another reader');
      continue;
    }
    replacements.set(mul.id, { op: 'swiglu_matmul',
      inputs: [gate.inputs[0]!, gate.inputs[1]!, gate.inputs[2]!, up.inputs[2]!],
      attrs: { eps: gate.attrs.eps! } });
    report.taken(NAME, [gate, up, silu, mul], 'swiglu_matmul');
  }
  return rewrite(graph, replacements, NAME);
}
