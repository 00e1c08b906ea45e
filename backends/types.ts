// What a backend is: something that turns a model graph plus its weights into a runnable
// forward step. Every backend keeps the same contract, so the runtime, the tests and the
// benchmarks treat them alike.

import { SmeltError } from '../ir/diagnostics.js';
import type { Graph } from '../ir/graph.js';
import type { Target } from '../ir/target.js';

/** A graph with its persistent states, as the frontend builds it. */
export interface CompileInput {
  graph: Graph;
  states: readonly { name: string; shape: readonly number[] }[];
  /** f32 data for every weight leaf, by leaf name, row-major. */
  weights: ReadonlyMap<string, Float32Array>;
}

export interface CompileOptions {
  threads: number;
  /** Machine to generate code for; the host's when absent. */
  target?: Target;
  /** Run the fusion passes (default true). */
  fuse?: boolean;
}

/** How many token ids the graph's embedding tables accept (the vocabulary size). */
export function tokenLimit(graph: Graph): number {
  let limit = Infinity;
  for (const node of graph.nodes) {
    if (node.op !== 'embed') continue;
    const rows = graph.nodes[node.inputs[0]!]!.type.shape[0];
    if (typeof rows === 'number') limit = Math.min(limit, rows);
  }
  return limit;
}

/** Width of a row of the first graph output: the vocabulary for a language model. */
export function outputWidth(graph: Graph): number {
  const shape = graph.nodes[graph.outputs[0]!]!.type.shape;
  return shape[shape.length - 1] as number;
}

/** What every backend checks before a step: positions fit the cache, ids fit the vocab. */
export function checkStep(tokens: Int32Array, pos: number, vocab: number, maxContext: number) {
  if (pos < 0 || pos + tokens.length > maxContext) {
    throw new SmeltError('RUN601', `positions ${pos}..${pos + tokens.length - 1} exceed the ` +
      `context of ${maxContext} tokens (the spec's KV-cache length)`);
  }
  for (const id of tokens) {
    if (!(id >= 0 && id < vocab)) {
      throw new SmeltError('RUN603', `token id ${id} is outside the vocabulary 0..${vocab - 1}`);
    }
  }
}

export interface Executable {
  /** Longest context (pos + tokens) the states can hold. */
  readonly maxContext: number;
  /**
   * Runs one step over `tokens` at positions pos..pos+n-1, updating the KV cache, and
   * returns the first graph output: [n, vocab] logits, row-major.
   */
  forward(tokens: Int32Array, pos: number): Float32Array;
  /** Forgets the KV cache. */
  reset(): void;
}

export interface Backend {
  readonly name: string;
  readonly description: string;
  compile(input: CompileInput, options: CompileOptions): Promise<Executable>;
}
