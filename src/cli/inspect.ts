// `smelt inspect`: the bound hyperparameters and the graph IR of a spec; or, on request,
// the memory plan (--memory: sizes, per target layout, and whether a wasm32 module fits), the
// fusion report (--fusion), every weight's layout (--layouts, for the --quant policy or the
// spec's `quant:`) or the IR after every pass.

import { printGraph } from '../../ir/printer.js';
import type { Graph } from '../../ir/graph.js';
import type { Target } from '../../ir/target.js';
import { TARGETS, targetNamed } from '../../ir/target.js';
import type { LayoutNote, QuantOptions } from '../../passes/layout.js';
import type { MemoryLayout } from '../../backends/wasm/memory.js';
import { MAX_PAGES, PAGE, planLayout } from '../../backends/wasm/memory.js';
import type { StoredDType } from '../../ir/quant.js';
import { storedBytes } from '../../ir/quant.js';
import { chooseDType } from '../runtime/quantize.js';
import { cacheLayouts, selectLayouts } from '../../passes/layout.js';
import { planMemory } from '../../passes/memory.js';
import { compileProgram, runGraphPasses } from '../../passes/pipeline.js';
import { FusionReport, describe } from '../../passes/report.js';
import { FUSES, isComputeOp } from '../../ir/ops.js';
import type { ModelGraph } from '../frontend/index.js';
import { specGraph } from '../frontend/index.js';
import { formatBytes } from './format.js';
import type { ModelFlags, QuantFlags } from './setup.js';
import { loadFromFlags, quantOptions, specWithOverrides } from './setup.js';

export interface InspectFlags extends ModelFlags, QuantFlags {
  memory?: boolean;
  fusion?: boolean;
  layouts?: boolean;
  printAfterAll?: boolean;
  target: string;
  maxTokens: number;
}

function policy(model: ModelGraph, flags: InspectFlags): QuantOptions {
  const { quant, quantWeights } = quantOptions(model, flags);
  return { policy: quant ?? 'f32', ...(quantWeights ? { weights: quantWeights } : {}) };
}

function memoryReport(model: ModelGraph, flags: InspectFlags): string {
  const target = targetNamed(flags.target);
  const graph = runGraphPasses(model.graph);
  const quant = policy(model, flags);
  const plan = planMemory(graph, flags.maxTokens, selectLayouts(graph, target, quant));
  const f32 = (n: number) => formatBytes(n * 4);
  const contextLength = Math.min(...model.states.map((s) => s.shape[0]!));
  const perToken = plan.sizes.states / contextLength;
  const total = plan.sizes.weights + plan.sizes.states + plan.sizes.arena;
  return [
    `weights    ${f32(plan.sizes.weights).padStart(10)}  (${quant.policy}, ` +
      `${model.slots.length} tensors, ` +
      `target ${target.name})`,
    `KV cache   ${f32(plan.sizes.states).padStart(10)}  (${f32(perToken)} per token × ` +
      `${contextLength} positions)`,
    `arena      ${f32(plan.sizes.arena).padStart(10)}  (intermediates of a ` +
      `${flags.maxTokens}-token step)`,
    `total      ${f32(total).padStart(10)}`,
    '',
    ...layoutLines(graph, flags.maxTokens, [target, TARGETS.wasm]),
    ...wasmVerdict(model, flags.maxTokens, perToken * 4),
  ].join('\n') + '\n';
}

/** Every panel weight: its shape, layout (encoding × lanes) and why; then the totals. */
function layoutReport(model: ModelGraph, flags: InspectFlags): string {
  const target = targetNamed(flags.target);
  const graph = runGraphPasses(model.graph);
  const notes: LayoutNote[] = [];
  const quant = policy(model, flags);
  selectLayouts(graph, target, quant, notes);
  const lines = [`${notes.length} matmul/embedding weights, policy ${quant.policy}, target ` +
    `${target.name} (others stay f32 rows):`];
  for (const n of notes) {
    lines.push(`  ${n.weight.padEnd(22)} [${n.shape.join(', ')}]`.padEnd(40) +
      ` ${n.layout.padEnd(10)} ${n.why}`);
  }
  const fallbacks = notes.filter((n) => n.why.startsWith('fallback')).length;
  lines.push(`${fallbacks} fallback${fallbacks === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}

/** One line per target: its weight layout (panel width), weights, arena and total. */
function layoutLines(graph: Graph, maxTokens: number, targets: Target[]): string[] {
  const lines = ['per layout:'];
  for (const t of targets) {
    const plan = planMemory(graph, maxTokens, selectLayouts(graph, t));
    const { weights, states, arena } = plan.sizes;
    const f32 = (n: number) => formatBytes(n * 4).padStart(10);
    lines.push(`  ${`${t.name} (panels of ${t.lanes})`.padEnd(22)} weights ${f32(weights)}  ` +
      `arena ${f32(arena)}  total ${f32(weights + states + arena)}`);
  }
  return lines;
}

/**
 * Whether the wasm module's linear memory (weights, KV cache, arena, tokens, logits and one
 * thread's scratch, as the wasm backend lays it out) fits the 4 GiB of wasm32, and if not,
 * the longest KV cache that would.
 */
function wasmVerdict(model: ModelGraph, maxTokens: number, kvBytesPerToken: number): string[] {
  const layout = wasmLayout(model, maxTokens);
  const f32Bytes = layout.scratch + layout.frame;
  const lines = ['wasm32 memory (4 GiB at most), with the weights stored as:'];
  for (const dtype of ['f32', 'f16', 'q8_0', 'q4_0'] as const) {
    const bytes = f32Bytes - layout.sizes.weights + weightBytes(model, dtype);
    let verdict = 'fits';
    if (bytes > MAX_PAGES * PAGE) {
      const fixed = bytes - layout.sizes.states;
      const positions = Math.floor((MAX_PAGES * PAGE - fixed) / kvBytesPerToken);
      verdict = positions >= 1 ? `does not fit; a KV cache of at most ${positions} positions ` +
        `would (--param seq_len=${positions})` : 'does not fit, even without a KV cache';
    }
    lines.push(`  ${dtype.padEnd(5)} ${formatBytes(bytes).padStart(10)}  ${verdict}`);
  }
  return lines;
}

/**
 * The wasm module's memory layout. Lowering unrolls loops over sizes such as head_size, so
 * a model whose weights alone exceed 4 GiB in the smallest encoding is not lowered: it fits
 * in no encoding, and its layout is planned without the per-thread frame (a few KiB at most).
 */
function wasmLayout(model: ModelGraph, maxTokens: number): MemoryLayout {
  if (weightBytes(model, 'q4_0') <= MAX_PAGES * PAGE) {
    return planLayout(compileProgram(model.graph, TARGETS.wasm, maxTokens));
  }
  const graph = runGraphPasses(model.graph);
  const target = TARGETS.wasm;
  const layouts = new Map([...selectLayouts(graph, target), ...cacheLayouts(graph, target)]);
  const { sizes } = planMemory(graph, maxTokens, layouts);
  const logits = graph.nodes[graph.outputs[0]!]!.type.shape;
  const vocab = logits[logits.length - 1];
  return planLayout({ sizes, maxTokens, vocab: typeof vocab === 'number' ? vocab : 0,
    kernels: [] });
}

/** Bytes of every weight stored as `dtype` (llama-quantize's per-tensor choice, as
 * `smelt quantize` makes it: 1-D weights stay f32, rows that are not whole blocks f16). */
function weightBytes(model: ModelGraph, dtype: StoredDType): number {
  return model.slots.reduce((sum, slot) => {
    const chosen = chooseDType(slot.name, slot.shape, dtype).dtype;
    return sum + storedBytes(chosen, slot.shape.reduce((a, b) => a * b, 1));
  }, 0);
}

/** Every kernel after fusion with the ops it contains, then every declined candidate. */
function fusionReport(model: ModelGraph): string {
  const report = new FusionReport();
  const graph = runGraphPasses(model.graph, { report });
  const kernels = graph.nodes.filter((n) => isComputeOp(n.op));
  const lines = [`${kernels.length} kernels after fusion (${model.graph.nodes
    .filter((n) => isComputeOp(n.op)).length} graph ops before):`];
  for (const node of kernels) {
    lines.push(`  ${describe(node).padEnd(34)} ${FUSES[node.op] ?? node.op}`);
  }
  const declined = report.decisions.filter((d) => !d.fused);
  const taken = report.decisions.length - declined.length;
  lines.push(`${taken} fusions taken, ${declined.length} declined` +
    (declined.length > 0 ? ':' : ''));
  for (const d of declined) lines.push(`  ${d.pass}: ${d.nodes.join(', ')}: ${d.detail}`);
  return lines.join('\n') + '\n';
}

export function inspectCommand(specPath: string, flags: InspectFlags): void {
  const model = flags.weights !== undefined
    ? loadFromFlags(specPath, flags).model
    : specGraph(specWithOverrides(specPath, flags), undefined, undefined,
      { checkMemory: !flags.memory });
  // every report asked for, in this order, one after the other
  const reports = [
    flags.memory && (() => memoryReport(model, flags)),
    flags.fusion && (() => fusionReport(model)),
    flags.layouts && (() => layoutReport(model, flags)),
  ].filter((r): r is () => string => typeof r === 'function');
  reports.forEach((report, i) => process.stdout.write((i > 0 ? '\n' : '') + report()));
  if (flags.printAfterAll) {
    process.stdout.write(`# after frontend\n${printGraph(model.graph)}`);
    runGraphPasses(model.graph,
      { onPass: (name, graph) => process.stdout.write(`# after ${name}\n${printGraph(graph)}`) });
  }
  if (reports.length > 0 || flags.printAfterAll) return;
  const params = [...model.env].map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`# ${specPath}: ${params}\n`);
  process.stdout.write(printGraph(model.graph));
}
