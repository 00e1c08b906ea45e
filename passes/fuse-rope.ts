// RoPE fusion: the rotation of q and k becomes the epilogue of the projection that makes
// them; the angles, which depend only on the step's positions, are computed once per step.
//
//   %16 = rms_matmul %3, %4, %6 {eps=0.00001}     →    %15 = rope_table %0 {head_size=8, …}
//   %19 = rope %16 {head_size=8, theta=10000}           %19 = rms_matmul_rope %3, %4, %6, %15
//                                                             {eps=0.00001, head_size=8}
//
// One rope_table per distinct set of rope attributes, placed before the first projection
// that reads it, serves every layer; each projection's tasks own whole heads and turn them
// once their outputs are stored. A biased projection (Qwen2: rms_matmul_bias) becomes
// rms_matmul_bias_rope, the bias added before the turn. Preconditions: the rope reads a
// normalized projection that nothing else reads, whose weight is stored in panels, and the
// graph has one token input (the table's rows follow it).

import type { Graph, Node } from '../ir/graph.js';
import type { Attrs } from '../ir/ops.js';
import type { Insertion, Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import { packable } from './fuse-norm.js';
import type { FusionReport } from './report.js';

export const NAME = 'fuse-rope';

/** Why `rope`'s producer cannot take it as an epilogue, or undefined when it can. */
function blocker(graph: Graph, users: number[][], mm: Node): string | undefined {
  if (mm.op !== 'rms_matmul' && mm.op !== 'rms_matmul_bias') {
    return `it reads ${mm.op}, not a normalized projection (rms_matmul, rms_matmul_bias)`;
  }
  if (users[mm.id]!.length !== 1) return `the projection has ${users[mm.id]!.length} readers`;
  if (!packable(graph, users, mm.inputs[2]!)) return 'the weight is not stored in panels';
  return undefined;
}

export function fuseRope(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const inputs = graph.nodes.filter((n) => n.op === 'input');
  const replacements = new Map<number, Replacement>();
  const insertions: Insertion[] = [];
  const tables = new Map<string, number>(); // rope attributes → the table's key
  for (const rope of graph.nodes) {
    if (rope.op !== 'rope') continue;
    const mm = graph.nodes[rope.inputs[0]!]!;
    const why = inputs.length !== 1 ? `the graph has ${inputs.length} token inputs`
      : blocker(graph, users, mm);
    if (why) {
      report.declined(NAME, [mm, rope], why);
      continue;
    }
    const key = JSON.stringify(rope.attrs);
    let table = tables.get(key);
    if (table === undefined) {
      table = graph.nodes.length + insertions.length;
      tables.set(key, table);
      insertions.push({ key: table, before: mm.id, name: 'rope_table',
        node: { op: 'rope_table', inputs: [inputs[0]!.id], attrs: rope.attrs } });
    }
    const attrs: Attrs = { eps: mm.attrs.eps!, head_size: rope.attrs.head_size!,
      ...(rope.attrs.neox === true ? { neox: true } : {}) };
    const op = mm.op === 'rms_matmul' ? 'rms_matmul_rope' : 'rms_matmul_bias_rope';
    replacements.set(rope.id, { op, inputs: [...mm.inputs, table], attrs });
    report.taken(NAME, [mm, rope], op);
  }
  return rewrite(graph, replacements, NAME, insertions);
}
