// Layout selection: picks the order each weight is stored in (see ir/layout.ts).
//
//   %5 = weight layers.0.wq : f32[64, 64]          rows (as declared)
//   %16 = matmul %15, %5                    →      %5 stored as panels16
//
// A 2-D weight whose every consumer is a matmul, fused or not (as a weight operand), or
// an embed (as its table) is stored in panels of the target's vector width: matmuls then
// need no horizontal sums, and embeds gather rows across the panel. Anything else keeps
// rows. The graph is not rewritten; the decision travels beside it to memory planning and
// lowering.
// Not handled yet: quantized layouts (q8_0, q4_0) — they will be chosen here too.
//
// Caches: with tiled attention, the KV caches [context, kv_width] are stored head-major
// (cacheLayouts), so a task's tile of one kv head is one contiguous run, and the K cache in
// panels of the target's vector width: a vector load is then one dimension of L
// consecutive keys, and attention's scores need no horizontal sums.

import type { Graph } from '../ir/graph.js';
import type { Layout } from '../ir/layout.js';
import { ROWS } from '../ir/layout.js';
import type { Target } from '../ir/target.js';

/** Whether operand `index` of `op` is the weight of a (possibly fused) matmul. */
export function isMatmulWeight(op: string, index: number): boolean {
  switch (op) {
    case 'matmul':
    case 'matmul_add':
      return index === 1;
    case 'rms_matmul':
      return index === 2;
    case 'swiglu_matmul':
      return index === 2 || index === 3;
    default:
      return false;
  }
}

/** The layout of every weight leaf, by node id. */
export type LayoutPlan = ReadonlyMap<number, Layout>;

export function selectLayouts(graph: Graph, target: Target): LayoutPlan {
  const consumers = new Map<number, { op: string; operand: number }[]>();
  for (const node of graph.nodes) {
    node.inputs.forEach((input, operand) => {
      const list = consumers.get(input) ?? [];
      list.push({ op: node.op, operand });
      consumers.set(input, list);
    });
  }
  const plan = new Map<number, Layout>();
  for (const node of graph.nodes) {
    if (node.op !== 'weight') continue;
    const uses = consumers.get(node.id) ?? [];
    const packable = node.type.shape.length === 2 && uses.length > 0 &&
      uses.every((u) => isMatmulWeight(u.op, u.operand) || (u.op === 'embed' && u.operand === 0));
    plan.set(node.id, packable ? { kind: 'panels', lanes: target.lanes } : ROWS);
  }
  return plan;
}

/**
 * Gains folded into weights: W' = W · diag(gain) for a weight read only by normalized
 * matmuls (rms_matmul, swiglu_matmul) with one and the same gain. The fused kernel then
 * skips the per-element x·gain product (exact in real arithmetic; rounding differs by an
 * ulp). A weight with any other reader (the tied embedding, read by `embed`) keeps the
 * product in the kernel instead. Maps weight node id → gain node id.
 */
export function selectFolds(graph: Graph): ReadonlyMap<number, number> {
  const gains = new Map<number, Set<number> | 'no'>();
  for (const node of graph.nodes) {
    node.inputs.forEach((input, i) => {
      if (graph.nodes[input]!.op !== 'weight') return;
      const normed = (node.op === 'rms_matmul' || node.op === 'swiglu_matmul') &&
        isMatmulWeight(node.op, i);
      const seen = gains.get(input);
      if (!normed || seen === 'no') {
        gains.set(input, 'no');
        return;
      }
      gains.set(input, new Set([...(seen ?? []), node.inputs[1]!]));
    });
  }
  const folds = new Map<number, number>();
  for (const [weight, set] of gains) {
    if (set !== 'no' && set.size === 1) folds.set(weight, [...set][0]!);
  }
  return folds;
}

/**
 * The KV caches tiled attention reads (through their kv_write): head-major, the K cache in
 * panels of the target's vector width (heads(S, L)), the V cache as rows per head
 * (heads(S, 1)), S = head size.
 */
export function cacheLayouts(graph: Graph, target: Target): LayoutPlan {
  const plan = new Map<number, Layout>();
  for (const node of graph.nodes) {
    if (node.op !== 'attention') continue;
    const size = (node.type.shape[1] as number) / (node.attrs.n_heads as number);
    const [keys, values] = [graph.nodes[node.inputs[1]!]!, graph.nodes[node.inputs[2]!]!];
    if (keys.op === 'kv_write') {
      plan.set(keys.inputs[0]!, { kind: 'heads', size, lanes: target.lanes });
    }
    if (values.op === 'kv_write') plan.set(values.inputs[0]!, { kind: 'heads', size, lanes: 1 });
  }
  return plan;
}
