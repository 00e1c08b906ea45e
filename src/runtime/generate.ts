// The generation loop, with llama2.c run.c semantics:
// positions run 0..steps-1; the prompt is consumed first (one prefill step over all of it),
// then each step samples the next token from the last logits and feeds it back. Generation
// stops after `steps` positions or when the model produces BOS or EOS.

import type { Executable } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { SamplerOptions } from './sampler.js';
import { Sampler } from './sampler.js';

export interface GenerateOptions extends SamplerOptions {
  steps: number;
  /** Tokens that end generation (run.c stops on BOS). */
  stopTokens: readonly number[];
  /** Called for every token after the prompt, as soon as it is chosen. */
  onToken?: (token: number, prev: number) => void;
  /** Called with the logits of every position (rows of [n, vocab]); for tests and evals. */
  onLogits?: (pos: number, logits: Float32Array) => void;
}

export interface GenerateResult {
  /** Prompt tokens followed by generated ones. */
  tokens: number[];
  promptTokens: number;
  stoppedOn?: number;
  prefillSeconds: number;
  decodeSeconds: number;
}

/** The logits of the last row of a [rows, vocab] block. */
function lastRow(logits: Float32Array, vocab: number): Float32Array {
  return logits.subarray(logits.length - vocab);
}

/** RUN601 unless a prompt of `length` tokens fits a context of `maxContext` positions. */
export function checkPromptFits(length: number, maxContext: number): void {
  if (length > maxContext) {
    throw new SmeltError('RUN601', `the prompt has ${length} tokens, more than the ` +
      `context of ${maxContext} positions`);
  }
}

export function generate(
  exe: Executable,
  prompt: readonly number[],
  options: GenerateOptions,
): GenerateResult {
  const sampler = new Sampler(options);
  checkPromptFits(prompt.length, exe.maxContext);
  const steps = Math.min(options.steps, exe.maxContext);
  // with fewer steps than prompt tokens, run.c only walks the prompt: steps + 1 tokens
  const tokens = prompt.slice(0, Math.max(1, Math.min(prompt.length, steps + 1)));
  const result: GenerateResult = {
    tokens, promptTokens: tokens.length, prefillSeconds: 0, decodeSeconds: 0,
  };
  exe.reset();
  if (tokens.length > steps) return result;

  // prefill: every prompt token in one step
  let start = performance.now();
  let logits = exe.forward(Int32Array.from(tokens), 0);
  const vocab = logits.length / tokens.length;
  for (let i = 0; i < tokens.length; i++) {
    options.onLogits?.(i, logits.subarray(i * vocab, (i + 1) * vocab));
  }
  result.prefillSeconds = (performance.now() - start) / 1000;

  // decode: one token per step
  start = performance.now();
  for (let pos = tokens.length - 1; pos < steps; pos++) {
    const next = sampler.sample(lastRow(logits, vocab));
    if (options.stopTokens.includes(next)) {
      result.stoppedOn = next;
      break;
    }
    options.onToken?.(next, tokens[tokens.length - 1]!);
    tokens.push(next);
    if (pos + 1 >= steps) break;
    logits = exe.forward(Int32Array.of(next), pos + 1);
    options.onLogits?.(pos + 1, logits);
  }
  result.decodeSeconds = (performance.now() - start) / 1000;
  return result;
}
