// Residual fusion: a residual add becomes the epilogue of the matmul that produces its
// other operand, so the projection's output is never written on its own.
//
//   %24 = matmul %23, %8                     →    %25 = matmul_add %23, %8, %3
//   %25 = add %3, %24
//
// Preconditions: the matmul (plain, not normalized) is read only by this add, and its
// weight is stored in panels. Adds of two non-matmul values are left alone, silently:
// there is nothing to fuse them into. A matmul followed by `add_bias` (GPT-2, Qwen2) is a
// candidate for a bias epilogue that is not implemented; the report says so.

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
    const input = graph.nodes[add.inputs[0]!]!;
    if (add.op === 'add_bias' && (input.op === 'matmul' || input.op === 'rms_matmul')) {
      report.declined(NAME, [input, add], 'a bias epilogue is not implemented yet (the matmul ' +
        'writes its output, then add_bias reads it again)');
    }
    if (add.op !== 'add') continue;
    const [a, b] = add.inputs.map((i) => graph.nodes[i]!) as [Node, Node];
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
