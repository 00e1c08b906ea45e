// Norm fusion: an RMSNorm read only by matmuls becomes the prologue of each of them.
//
//   %15 = rmsnorm %3, %4 {eps=0.00001}            %16 = rms_matmul %3, %4, %5 {eps=0.00001}
//   %16 = matmul %15, %5                     →    %17 = rms_matmul %3, %4, %6 {eps=0.00001}
//   %17 = matmul %15, %6
//
// The normalized activations are never written: each matmul computes the row's scale
// (one pass over K, negligible next to the matmul) and multiplies x[k]·gain[k] on the fly.
// Preconditions: the norm's every reader is a matmul taking it as `x`, and each matmul's
// weight is read only by matmuls (so it is stored in panels, which the fused kernel needs,
// and the norm's gain can be folded into it at load). A weight that is also an embedding
// table (tied output) would need the gain applied per element inside the matmul, which
// measured slower than the separate norm; such norms stay, and the report says why. So do
// norms with a `gain_offset` (Gemma's 1 + weight), and layernorms: not handled yet.

import type { Graph, Node } from '../ir/graph.js';
import type { Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import { isMatmulWeight } from './layout.js';
import type { FusionReport } from './report.js';
import { describe } from './report.js';

export const NAME = 'fuse-norm';

/** Whether weight `id` is read only as a matmul weight or an embedding table. */
export function packable(graph: Graph, users: number[][], id: number): boolean {
  return graph.nodes[id]!.op === 'weight' && users[id]!.every((u) => {
    const node = graph.nodes[u];
    if (!node) return false;
    return node.inputs.every((input, i) => input !== id || isMatmulWeight(node.op, i) ||
      (node.op === 'embed' && i === 0));
  });
}

/** Whether weight `id` is read only as the weight of matmuls (so a gain can be folded in). */
function onlyMatmuls(graph: Graph, users: number[][], id: number): boolean {
  return users[id]!.every((u) => {
    const node = graph.nodes[u];
    return node !== undefined && node.op === 'matmul' && node.inputs[0] !== id;
  });
}

/** Why `norm` cannot become the prologue of its readers, or undefined when it can. */
function blocker(graph: Graph, users: number[][], norm: Node): string | undefined {
  if (norm.attrs.gain_offset) {
    return `its gain is (${norm.attrs.gain_offset} + weight), which rms_matmul does not ` +
      'apply yet (it would fold into the weights at load like a plain gain)';
  }
  for (const u of users[norm.id]!) {
    const reader = graph.nodes[u];
    if (!reader) return 'it is a graph output';
    const w = reader.inputs[1]!;
    if (reader.op !== 'matmul' || reader.inputs[0] !== norm.id || !packable(graph, users, w)) {
      return `reader ${describe(reader)} is not a plain matmul over a packable weight ` +
        '(the norm becomes the prologue of matmuls only)';
    }
    if (!onlyMatmuls(graph, users, w)) {
      return `weight ${graph.nodes[w]!.name} has readers other than matmuls (the tied ` +
        'embedding), so the gain cannot be folded into it; a per-element gain in the matmul ' +
        'costs more than the separate norm';
    }
  }
  return undefined;
}

export function fuseNorm(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const replacements = new Map<number, Replacement>();
  for (const norm of graph.nodes) {
    if (norm.op === 'layernorm' && users[norm.id]!.some((u) => graph.nodes[u]?.op === 'matmul')) {
      report.declined(NAME, [norm], 'layernorm has no matmul prologue yet (its mean and bias ' +
        'would need a second pass over the row in every matmul)');
    }
    if (norm.op !== 'rmsnorm') continue;
    const why = blocker(graph, users, norm);
    if (why) {
      report.declined(NAME, [norm], why);
      continue;
    }
    for (const u of users[norm.id]!) {
      const mm = graph.nodes[u]!;
      replacements.set(u, { op: 'rms_matmul', inputs: [norm.inputs[0]!, norm.inputs[1]!,
        mm.inputs[1]!], attrs: { eps: norm.attrs.eps! } });
      report.taken(NAME, [norm, mm], 'rms_matmul');
    }
  }
  return rewrite(graph, replacements, NAME);
}
