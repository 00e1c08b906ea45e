// The one place that fixes the order of passes. Each step is timed (SMELT_DEBUG=2),
// the graph is verified after every graph pass, and SMELT_DEBUG=3 prints it.
//
//   graph passes    (none yet: fusion comes here, before layouts and planning)
//   selectLayouts   weight storage orders; memory planning needs their sizes
//   planMemory      places every tensor; must see the final graph
//   lower           one kernel per compute node, from the target and the layouts

import type { Graph } from '../ir/graph.js';
import type { KernelProgram } from '../ir/kernel.js';
import { printGraph } from '../ir/printer.js';
import type { Target } from '../ir/target.js';
import { verify } from '../ir/verify.js';
import { debugLevel } from '../src/env.js';
import { selectLayouts } from './layout.js';
import { planMemory } from './memory.js';
import { lower } from './lower/lower.js';

export interface GraphPass {
  name: string;
  run(graph: Graph): Graph;
}

/** Graph-to-graph passes, in order. */
export const GRAPH_PASSES: readonly GraphPass[] = [];

function timed<T>(name: string, step: () => T): T {
  const start = performance.now();
  const result = step();
  if (debugLevel() >= 2) {
    process.stderr.write(`smelt: pass ${name} ${(performance.now() - start).toFixed(2)} ms\n`);
  }
  return result;
}

export function runGraphPasses(graph: Graph): Graph {
  let g = graph;
  for (const pass of GRAPH_PASSES) {
    g = timed(pass.name, () => pass.run(g));
    verify(g, pass.name);
    if (debugLevel() >= 3) process.stderr.write(`# after ${pass.name}\n${printGraph(g)}`);
  }
  return g;
}

export function compileProgram(graph: Graph, target: Target, maxTokens: number): KernelProgram {
  const g = runGraphPasses(graph);
  const layouts = timed('selectLayouts', () => selectLayouts(g, target));
  const plan = timed('planMemory', () => planMemory(g, maxTokens, layouts));
  return timed('lower', () => lower(g, plan, layouts, target));
}
