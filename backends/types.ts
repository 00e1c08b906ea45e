// What a backend is: something that turns a model graph plus its weights into a runnable
// forward step. Every backend keeps the same contract, so the runtime, the tests and the
// benchmarks treat them alike.

import { SmeltError } from '../ir/diagnostics.js';
import type { Graph } from '../ir/graph.js';
import type { StoredDType } from '../ir/quant.js';
import type { KernelCall } from '../ir/kernel.js';
import type { Target } from '../ir/target.js';
import type { QuantPolicy, WeightDType } from '../passes/layout.js';

/** A graph with its persistent states, as the frontend builds it. */
export interface CompileInput {
  graph: Graph;
  states: readonly { name: string; shape: readonly number[] }[];
  /** f32 data for every weight leaf, by leaf name, row-major. */
  weights: ReadonlyMap<string, Float32Array>;
  /**
   * The checkpoint's own bytes of weights stored encoded (f16, q8_0, q4_0 blocks, row-major
   * as GGUF has them): a layout of the same encoding is packed from these, bit for bit.
   */
  encoded?: ReadonlyMap<string, EncodedWeight>;
}

export interface EncodedWeight {
  dtype: StoredDType;
  bytes: Uint8Array;
}

export interface CompileOptions {
  threads: number;
  /** Machine to generate code for; the host's when absent. */
  target?: Target;
  /** Run the fusion passes (default true). */
  fuse?: boolean;
  /** Weight encoding policy (default f32): see passes/layout.ts. */
  quant?: QuantPolicy;
  /** Per-weight overrides of the policy, by leaf name without `layers.<i>.` (spec `quant:`). */
  quantWeights?: Readonly<Record<string, WeightDType>>;
  /** Quantized matmuls: integer dot products (default) or dequantized in registers. */
  quantKernels?: 'int' | 'float';
  /** Time every kernel call (an instrumented build, for `smelt bench --per-kernel`). */
  profile?: boolean;
}

/** The pipeline options a backend derives from its compile options. */
export function pipelineOptions(options: CompileOptions) {
  return {
    fuse: options.fuse ?? true,
    quant: { policy: options.quant ?? 'f32', ...(options.quantWeights
      ? { weights: options.quantWeights } : {}) },
    quantKernels: options.quantKernels ?? 'int',
  } as const;
}

/** Per-call timings of an instrumented build, summed over the steps since the last reset. */
export interface KernelProfile {
  /** The step's kernel calls in order: `seconds()[i]` belongs to `calls[i]`. */
  readonly calls: readonly KernelCall[];
  /** Each kernel's one-line doc, by kernel name. */
  readonly docs: ReadonlyMap<string, string>;
  seconds(): Float64Array;
  reset(): void;
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

/** What a step loop needs to know of a compiled program. */
export interface StepLimits {
  vocab: number; // token ids accepted
  width: number; // floats per logits row
  maxTokens: number; // tokens per native call
  maxContext: number;
}

/**
 * One step, fed in chunks of at most `maxTokens` tokens: checks the step, allocates the
 * [n, width] logits and calls `run(chunk, pos, logitsOfChunk)` for each chunk in order.
 */
export function chunkedStep(tokens: Int32Array, pos: number, limits: StepLimits,
  run: (chunk: Int32Array, pos: number, logits: Float32Array) => void): Float32Array {
  checkStep(tokens, pos, limits.vocab, limits.maxContext);
  const { width, maxTokens } = limits;
  const logits = new Float32Array(tokens.length * width);
  for (let at = 0; at < tokens.length; at += maxTokens) {
    const chunk = tokens.subarray(at, at + maxTokens);
    run(chunk, pos + at, logits.subarray(at * width, (at + chunk.length) * width));
  }
  return logits;
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
  /** Bytes of the module's own memory (weights, KV cache, arena), when the backend knows. */
  readonly memoryBytes?: number;
  /** Present when compiled with `profile: true` on a backend that can time its kernels. */
  readonly profile?: KernelProfile;
  /** Frees the module's memory and threads now; the executable is unusable afterwards. */
  dispose?(): void;
}

export interface Backend {
  readonly name: string;
  readonly description: string;
  compile(input: CompileInput, options: CompileOptions): Promise<Executable>;
}
