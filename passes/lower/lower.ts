// Lowering: graph IR + memory plan + target → kernel program (kernels and their calls).
//
// Each compute node becomes one call of the kernel its generator produces. Kernels are
// named by op and constant shape, so the 30 layers of a model share one `matmul_576x576`;
// two nodes whose kernels share a name must produce the same loops (checked).
// Preconditions: a verified graph with one output; leaves are placed by the memory plan.

import { InternalError } from '../../ir/diagnostics.js';
import type { Graph } from '../../ir/graph.js';
import type { Kernel, KernelCall, KernelProgram } from '../../ir/kernel.js';
import { isComputeOp } from '../../ir/ops.js';
import type { Target } from '../../ir/target.js';
import { ROWS } from '../../ir/layout.js';
import type { LayoutPlan } from '../layout.js';
import type { MemoryPlan } from '../memory.js';
import { generatorFor } from './kernels.js';

export function lower(graph: Graph, plan: MemoryPlan, layouts: LayoutPlan,
  folds: ReadonlyMap<number, number>, target: Target, tiledAttention = true): KernelProgram {
  const ctx = { graph, target, layouts, folds, tiledAttention, maxTokens: plan.maxTokens };
  const kernels = new Map<string, { kernel: Kernel; text: string }>();
  const calls: KernelCall[] = [];
  // scratch is dead between kernels (each ends in a barrier): one block past the arena
  // serves every call, sized for the largest need
  const scratchAt = plan.sizes.arena;
  let scratch = 0;
  for (const node of graph.nodes) {
    if (!isComputeOp(node.op)) continue;
    const kernel = generatorFor(node.op)(node, ctx);
    const text = JSON.stringify(kernel);
    const seen = kernels.get(kernel.name);
    if (seen && seen.text !== text) {
      throw new InternalError('lower', `two different kernels are named ${kernel.name}`);
    }
    if (!seen) kernels.set(kernel.name, { kernel, text });
    const args = [plan.buffers[node.id]!,
      ...node.inputs.slice(kernel.inPlace ? 1 : 0).map((i) => plan.buffers[i]!)];
    if (kernel.scratch) {
      args.push({ region: 'arena', offset: scratchAt });
      scratch = Math.max(scratch, Math.ceil(kernel.scratch / 16) * 16);
    }
    calls.push({ kernel: kernel.name, args, node: node.id });
  }
  const logits = graph.nodes[graph.outputs[0]!]!;
  const vocab = logits.type.shape[logits.type.shape.length - 1];
  return {
    kernels: [...kernels.values()].map((k) => k.kernel),
    calls,
    sizes: { ...plan.sizes, arena: plan.sizes.arena + scratch },
    weights: graph.nodes.filter((n) => n.op === 'weight').map((n) => ({
      name: n.name!,
      offset: plan.buffers[n.id]!.offset,
      layout: layouts.get(n.id) ?? ROWS,
      shape: n.type.shape as number[],
      ...(folds.has(n.id) ? { foldGain: graph.nodes[folds.get(n.id)!]!.name! } : {}),
    })),
    maxTokens: plan.maxTokens,
    vocab: typeof vocab === 'number' ? vocab : 0,
  };
}
