// Residual fusion: a residual add becomes the epilogue of the matmul that produces its
// other operand, so the projection's output is never written on its own.
//
//   %24 = matmul %23, %8                     →    %25 = matmul_add %23, %8, %3
//   %25 = add %3, %24
//
// Preconditions: the matmul (plain, not normalized) is read only by this add, and its
// weight is stored in panels. Adds of two non-matmul values are left alone, silently:
// there is nothing to fuse them into. The residual add of a biased projection (GPT-2's
// attention and FFN outputs) takes the bias along: matmul_bias_add.

import type { Graph, Node } from '../ir/graph.js';
import type { Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import { packable } from './fuse-norm.js';
import type { FusionReport } from './report.js';

export const NAME = 'fuse-residual';

export function fuseResidual(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const replacements = new Map<number, Replacement>();
  for (const add of graph.nodes) {
    if (add.op !== 'add') continue;
    const [a, b] = add.inputs.map((i) => graph.nodes[i]!) as [Node, Node];
    const biased = [a, b].find((n) => n.op === 'add_bias' &&
      graph.nodes[n.inputs[0]!]!.op === 'matmul');
    if (biased) {
      const mm = graph.nodes[biased.inputs[0]!]!;
      const residual = biased === b ? a : b;
      const why = users[biased.id]!.length !== 1 ? 'the biased projection has other readers'
        : users[mm.id]!.length !== 1 ? 'the matmul has other readers'
          : !packable(graph, users, mm.inputs[1]!) ? 'the weight is not stored in panels'
            : undefined;
      if (why) {
        report.declined(NAME, [mm, biased, add], why);
        continue;
      }
      replacements.set(add.id, { op: 'matmul_bias_add', inputs: [mm.inputs[0]!, mm.inputs[1]!,
        residual.id, biased.inputs[1]!], attrs: {} });
      report.taken(NAME, [mm, biased, add], 'matmul_bias_add');
      continue;
    }
    const mm = b.op === 'matmul' ? b : a.op === 'matmul' ? a : undefined;
    if (!mm) continue;
    const residual = mm === b ? a : b;
    if (users[mm.id]!.length !== 1) {
      report.declined(NAME, [mm, add], `the matmul has ${users[mm.id]!.length} readers`);
      continue;
    }
    if (!packable(graph, users, mm.inputs[1]!)) {
      report.declined(NAME, [mm, add], 'the weight is not stored in panels');
      continue;
    }
    replacements.set(add.id, { op: 'matmul_add', inputs: [mm.inputs[0]!, mm.inputs[1]!,
      residual.id], attrs: {} });
    report.taken(NAME, [mm, add], 'matmul_add');
  }
  return rewrite(graph, replacements, NAME);
}
