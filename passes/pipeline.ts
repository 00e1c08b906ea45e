// The one place that fixes the order of passes. Each step is timed (SMELT_DEBUG=2),
// the graph is verified after every graph pass, and SMELT_DEBUG=3 prints it.
//
//   fuse-norm       rmsnorm → prologue of the matmuls that read it
//   fuse-swiglu     gate/up/silu/mul → one kernel; needs fuse-norm's rms_matmuls
//   fuse-residual   residual add → epilogue of its matmul; after fuse-swiglu, so that the
//                   FFN's down projection (reading the swiglu result) is a plain matmul
//   fuse-bias       bias add → epilogue of its matmul (plain or normalized: after fuse-norm)
//   fuse-rope       rope → epilogue of its normalized projection, angles once per step
//   fuse-kv         the KV-cache writes → the attention kernel that reads the caches
//   selectLayouts   weight storage orders and encodings (the quant policy); memory planning
//                   needs their sizes
//   selectFolds     norm gains folded into the weights that only normalized matmuls read;
//                   after selectLayouts: quantized weights are never folded
//   planMemory      places every tensor; must see the final graph
//   lower           one kernel per compute node, from the target and the layouts

import type { Graph } from '../ir/graph.js';
import type { KernelProgram } from '../ir/kernel.js';
import { printGraph } from '../ir/printer.js';
import type { Target } from '../ir/target.js';
import { verify } from '../ir/verify.js';
import { debugLevel } from '../src/env.js';
import { fuseBias } from './fuse-bias.js';
import { fuseKv } from './fuse-kv.js';
import { fuseRope } from './fuse-rope.js';
import { fuseNorm } from './fuse-norm.js';
import { fuseResidual } from './fuse-residual.js';
import { fuseSwiglu } from './fuse-swiglu.js';
import type { LayoutNote, QuantOptions } from './layout.js';
import { cacheLayouts, selectFolds, selectLayouts } from './layout.js';
import { FusionReport } from './report.js';
import { planMemory } from './memory.js';
import { lower } from './lower/lower.js';

export interface GraphPass {
  name: string;
  run(graph: Graph, report: FusionReport): Graph;
}

/** Graph-to-graph passes, in order. */
export const GRAPH_PASSES: readonly GraphPass[] = [
  { name: 'fuse-norm', run: fuseNorm },
  { name: 'fuse-swiglu', run: fuseSwiglu },
  { name: 'fuse-residual', run: fuseResidual },
  { name: 'fuse-bias', run: fuseBias },
  { name: 'fuse-rope', run: fuseRope },
  { name: 'fuse-kv', run: fuseKv },
];

export interface PipelineOptions {
  /**
   * Run the fusion passes and tile attention (default true); off, every graph node is its
   * own kernel in its plain form — the baseline the fused program is measured against.
   */
  fuse?: boolean;
  /** Weight encodings (default: every weight f32). */
  quant?: QuantOptions;
  /** Quantized matmuls: integer dot products (default) or dequantized in registers. */
  quantKernels?: 'int' | 'float';
  /** Collects one line per panel weight: its layout and why (`inspect --layouts`). */
  layoutNotes?: LayoutNote[];
  /** Called with the graph after every pass (`--print-after-all`). */
  onPass?: (name: string, graph: Graph) => void;
  report?: FusionReport;
}

function timed<T>(name: string, step: () => T): T {
  const start = performance.now();
  const result = step();
  if (debugLevel() >= 2) {
    process.stderr.write(`smelt: pass ${name} ${(performance.now() - start).toFixed(2)} ms\n`);
  }
  return result;
}

export function runGraphPasses(graph: Graph, options: PipelineOptions = {}): Graph {
  let g = graph;
  if (options.fuse === false) return g;
  const report = options.report ?? new FusionReport();
  for (const pass of GRAPH_PASSES) {
    g = timed(pass.name, () => pass.run(g, report));
    verify(g, pass.name);
    options.onPass?.(pass.name, g);
    if (debugLevel() >= 3) process.stderr.write(`# after ${pass.name}\n${printGraph(g)}`);
  }
  return g;
}

export function compileProgram(graph: Graph, target: Target, maxTokens: number,
  options: PipelineOptions = {}): KernelProgram {
  const g = runGraphPasses(graph, options);
  const tiled = options.fuse !== false;
  const layouts = timed('selectLayouts', () => new Map([
    ...selectLayouts(g, target, options.quant, options.layoutNotes),
    ...cacheLayouts(g, target, tiled)]));
  const folds = timed('selectFolds', () => selectFolds(g, layouts));
  const plan = timed('planMemory', () => planMemory(g, maxTokens, layouts));
  return timed('lower', () => lower(g, plan, layouts, folds, target,
    { tiledAttention: tiled, quantKernels: options.quantKernels ?? 'int' }));
}
