// Bias fusion: a bias add becomes the epilogue of the matmul that produces its operand.
//
//   %16 = rms_matmul %3, %4, %5 {eps=0.000001}    →    %17 = rms_matmul_bias %3, %4, %5, %6
//   %17 = add_bias %16, %6                                  {eps=0.000001}
//
// GPT-2's projections (after a layernorm) and Qwen2's Q/K/V (after an RMSNorm, which
// fuse-norm has already made rms_matmul) carry biases; the projection's output is then
// written once, biased. Preconditions: the matmul (plain or normalized) is read only by
// the add_bias, and its weight is stored in panels (packable), as fuse-residual asks.

import type { Graph, Node } from '../ir/graph.js';
import type { Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import { packable } from './fuse-norm.js';
import type { FusionReport } from './report.js';

export const NAME = 'fuse-bias';

export function fuseBias(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const replacements = new Map<number, Replacement>();
  for (const add of graph.nodes) {
    if (add.op !== 'add_bias') continue;
    const mm: Node = graph.nodes[add.inputs[0]!]!;
    if (mm.op !== 'matmul' && mm.op !== 'rms_matmul') continue;
    const w = mm.inputs[mm.op === 'matmul' ? 1 : 2]!;
    if (users[mm.id]!.length !== 1) {
      report.declined(NAME, [mm, add], `the matmul has ${users[mm.id]!.length} readers`);
      continue;
    }
    if (!packable(graph, users, w)) {
      report.declined(NAME, [mm, add], 'the weight is not stored in panels');
      continue;
    }
    const op = mm.op === 'matmul' ? 'matmul_bias' : 'rms_matmul_bias';
    replacements.set(add.id, { op, inputs: [...mm.inputs, add.inputs[1]!], attrs: mm.attrs });
    report.taken(NAME, [mm, add], op);
  }
  return rewrite(graph, replacements, NAME);
}
