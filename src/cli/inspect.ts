// `smelt inspect`: the bound hyperparameters and the graph IR of a spec; with --memory,
// the memory plan instead.

import { printGraph } from '../../ir/printer.js';
import { targetNamed } from '../../ir/target.js';
import { selectLayouts } from '../../passes/layout.js';
import { planMemory } from '../../passes/memory.js';
import type { ModelGraph } from '../frontend/index.js';
import { loadSpec, specGraph } from '../frontend/index.js';
import { formatBytes } from './format.js';
import type { ModelFlags } from './setup.js';
import { loadFromFlags } from './setup.js';

export interface InspectFlags extends ModelFlags {
  memory?: boolean;
  target: string;
  maxTokens: number;
}

function memoryReport(model: ModelGraph, flags: InspectFlags): string {
  const target = targetNamed(flags.target);
  const plan = planMemory(model.graph, flags.maxTokens, selectLayouts(model.graph, target));
  const f32 = (n: number) => formatBytes(n * 4);
  const contextLength = Math.min(...model.states.map((s) => s.shape[0]!));
  const perToken = plan.sizes.states / contextLength;
  const total = plan.sizes.weights + plan.sizes.states + plan.sizes.arena;
  return [
    `weights    ${f32(plan.sizes.weights).padStart(10)}  (f32, ${model.slots.length} tensors, ` +
      `target ${target.name})`,
    `KV cache   ${f32(plan.sizes.states).padStart(10)}  (${f32(perToken)} per token × ` +
      `${contextLength} positions)`,
    `arena      ${f32(plan.sizes.arena).padStart(10)}  (intermediates of a ${flags.maxTokens}-token step)`,
    `total      ${f32(total).padStart(10)}`,
  ].join('\n') + '\n';
}

export function inspectCommand(specPath: string, flags: InspectFlags): void {
  const model = flags.weights !== undefined
    ? loadFromFlags(specPath, flags).model
    : specGraph(loadSpec(specPath));
  if (flags.memory) {
    process.stdout.write(memoryReport(model, flags));
    return;
  }
  const params = [...model.env].map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`# ${specPath}: ${params}\n`);
  process.stdout.write(printGraph(model.graph));
}
