// What a backend is: something that turns a model graph plus its weights into a runnable
// forward step. Every backend keeps the same contract, so the runtime, the tests and the
// benchmarks treat them alike.

import type { Graph } from '../ir/graph.js';

/** A graph with its persistent states, as the frontend builds it. */
export interface CompileInput {
  graph: Graph;
  states: readonly { name: string; shape: readonly number[] }[];
  /** f32 data for every weight leaf, by leaf name, row-major. */
  weights: ReadonlyMap<string, Float32Array>;
}

export interface CompileOptions {
  threads: number;
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
