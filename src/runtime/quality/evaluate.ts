// Perplexity of a model on a token sequence, and with a reference model its KL divergence
// and top-1 agreement, streaming: windows (windows.ts) are fed in chunks of a few rows, and
// each chunk's logits are reduced to a handful of f64 sums before the next is computed.
// Memory is O(chunk × vocab) for logits plus 8 bytes per scored token (for the KL quantiles),
// whatever the length of the text.

import type { Executable } from '../../../backends/index.js';
import { InternalError } from '../../../ir/diagnostics.js';
import { argmax, klDivergence, logSumExp } from './logprob.js';
import type { Window } from './windows.js';

/** Logit floats held per model per chunk: 4 Mi floats = 16 MiB, at most 128 rows. */
const CHUNK_FLOATS = 1 << 22;
const MAX_CHUNK_ROWS = 128;

/** Mean of per-token values with its standard error, accumulated without storing them. */
class MeanAccumulator {
  private n = 0;
  private sum = 0;
  private sumSq = 0;

  add(x: number): void {
    this.n++;
    this.sum += x;
    this.sumSq += x * x;
  }

  get count(): number {
    return this.n;
  }

  get mean(): number {
    return this.sum / this.n;
  }

  /** Standard error of the mean (0 for fewer than two values). */
  get stderr(): number {
    if (this.n < 2) return 0;
    const variance = Math.max(0, (this.sumSq - this.sum * this.mean) / (this.n - 1));
    return Math.sqrt(variance / this.n);
  }
}

export interface Perplexity {
  perplexity: number; // exp(mean NLL)
  nll: number; // mean negative log-likelihood, nats per token
  nllStderr: number; // its standard error
}

export interface Comparison {
  klMean: number; // mean KL(ref ‖ test), nats per token
  klStderr: number;
  klMedian: number;
  klP99: number;
  klMax: number;
  top1: number; // predictions whose argmax equals the reference's
  top1Fraction: number; // top1 / predictions
}

export interface QualityResult {
  scored: number; // predictions scored: tokens − 1
  fed: number; // positions fed per model, over all windows
  test: Perplexity;
  reference?: Perplexity;
  comparison?: Comparison;
}

export interface EvaluateOptions {
  /** Called after each chunk with the number of predictions scored so far. */
  onProgress?: (scored: number, test: MeanAccumulatorView) => void;
}

/** What progress reports see of the running NLL. */
export type MeanAccumulatorView = Pick<MeanAccumulator, 'mean' | 'count'>;

function perplexityOf(nll: MeanAccumulator): Perplexity {
  return { perplexity: Math.exp(nll.mean), nll: nll.mean, nllStderr: nll.stderr };
}

/** The value below which a fraction `q` of the sorted values lie (nearest rank). */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function comparisonOf(kl: MeanAccumulator, values: Float64Array, top1: number): Comparison {
  const sorted = values.slice().sort();
  return { klMean: kl.mean, klStderr: kl.stderr, klMedian: quantile(sorted, 0.5),
    klP99: quantile(sorted, 0.99), klMax: sorted[sorted.length - 1]!, top1,
    top1Fraction: top1 / sorted.length };
}

/**
 * Scores `tokens` over `plan` on `test`, and on `reference` side by side when given (same
 * tokens, same windows). Both executables must produce logits rows of the same width.
 */
export function evaluate(tokens: Int32Array, plan: readonly Window[], test: Executable,
  reference?: Executable, options: EvaluateOptions = {}): QualityResult {
  const nllTest = new MeanAccumulator();
  const nllRef = new MeanAccumulator();
  const kl = new MeanAccumulator();
  const klValues = new Float64Array(reference ? tokens.length - 1 : 0);
  let top1 = 0;
  let fed = 0;
  let chunkRows = MAX_CHUNK_ROWS;

  for (const w of plan) {
    test.reset();
    reference?.reset();
    for (let at = w.start; at < w.end; at += chunkRows) {
      // one chunk of the window, fed at its position within the window
      const chunk = tokens.subarray(at, Math.min(at + chunkRows, w.end));
      const testLogits = test.forward(chunk, at - w.start);
      const refLogits = reference?.forward(chunk, at - w.start);
      const vocab = testLogits.length / chunk.length;
      if (refLogits && refLogits.length !== testLogits.length) {
        throw new InternalError('perplexity', `logits of ${testLogits.length} and ` +
          `${refLogits.length} floats for one chunk: vocabularies were not checked`);
      }
      fed += chunk.length;
      chunkRows = Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.floor(CHUNK_FLOATS / vocab)));

      // the rows this window scores: each predicts the token after it
      for (let r = Math.max(at, w.scoreFrom); r < at + chunk.length; r++) {
        const target = tokens[r + 1]!;
        const row = (logits: Float32Array) => logits.subarray((r - at) * vocab,
          (r - at + 1) * vocab);
        const q = row(testLogits);
        const lseQ = logSumExp(q);
        nllTest.add(lseQ - q[target]!);
        if (!refLogits) continue;
        const p = row(refLogits);
        const lseP = logSumExp(p);
        nllRef.add(lseP - p[target]!);
        const d = klDivergence(p, lseP, q, lseQ);
        klValues[kl.count] = d;
        kl.add(d);
        if (argmax(p) === argmax(q)) top1++;
      }
      options.onProgress?.(nllTest.count, nllTest);
    }
  }

  const result: QualityResult = { scored: nllTest.count, fed, test: perplexityOf(nllTest) };
  if (reference) {
    result.reference = perplexityOf(nllRef);
    result.comparison = comparisonOf(kl, klValues, top1);
  }
  return result;
}
