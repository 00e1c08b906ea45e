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
  /** Called after each chunk with the predictions scored so far and their mean NLL. */
  onProgress?: (scored: number, meanNll: number) => void;
}

function perplexityOf(nll: MeanAccumulator): Perplexity {
  return { perplexity: Math.exp(nll.mean), nll: nll.mean, nllStderr: nll.stderr };
}

/** The value below which a fraction `q` of the sorted values lie (nearest rank). */
function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** The running sums of one evaluation, fed one logits row (or pair of rows) at a time. */
class Scores {
  readonly nllTest = new MeanAccumulator();
  private readonly nllRef = new MeanAccumulator();
  private readonly kl = new MeanAccumulator();
  private readonly klValues: Float64Array; // (predictions) for the median and percentile
  private top1 = 0;

  constructor(predictions: number, private readonly compare: boolean) {
    this.klValues = new Float64Array(compare ? predictions : 0);
  }

  /** One prediction of `target`: q from the tested model, p from the reference if any. */
  add(target: number, q: Float32Array, p?: Float32Array): void {
    const lseQ = logSumExp(q);
    this.nllTest.add(lseQ - q[target]!);
    if (!p) return;
    const lseP = logSumExp(p);
    this.nllRef.add(lseP - p[target]!);
    const d = klDivergence(p, lseP, q, lseQ);
    this.klValues[this.kl.count] = d;
    this.kl.add(d);
    if (argmax(p) === argmax(q)) this.top1++;
  }

  result(fed: number): QualityResult {
    const result: QualityResult = { scored: this.nllTest.count, fed,
      test: perplexityOf(this.nllTest) };
    if (!this.compare) return result;
    const sorted = this.klValues.slice(0, this.kl.count).sort();
    result.reference = perplexityOf(this.nllRef);
    result.comparison = { klMean: this.kl.mean, klStderr: this.kl.stderr,
      klMedian: quantile(sorted, 0.5), klP99: quantile(sorted, 0.99),
      klMax: sorted[sorted.length - 1]!, top1: this.top1,
      top1Fraction: this.top1 / this.kl.count };
    return result;
  }
}

/**
 * Scores `tokens` over `plan` on `test`, and on `reference` side by side when given (same
 * tokens, same windows). Both executables must produce logits rows of the same width.
 */
export function evaluate(tokens: Int32Array, plan: readonly Window[], test: Executable,
  reference?: Executable, options: EvaluateOptions = {}): QualityResult {
  const scores = new Scores(tokens.length - 1, reference !== undefined);
  let fed = 0;
  let chunkRows = 1; // until the first step tells the width of a logits row

  for (const w of plan) {
    test.reset();
    reference?.reset();
    for (let at = w.start; at < w.end;) {
      // one chunk of the window, fed at its position within the window
      const chunk = tokens.subarray(at, Math.min(at + chunkRows, w.end));
      const testLogits = test.forward(chunk, at - w.start);
      const refLogits = reference?.forward(chunk, at - w.start);
      const vocab = testLogits.length / chunk.length;
      if (refLogits && refLogits.length !== testLogits.length) {
        throw new InternalError('perplexity', `logits of ${testLogits.length} and ` +
          `${refLogits.length} floats for one chunk: vocabularies were not checked`);
      }

      // the rows this window scores: row r predicts token r + 1
      const row = (logits: Float32Array, r: number) =>
        logits.subarray((r - at) * vocab, (r - at + 1) * vocab);
      for (let r = Math.max(at, w.scoreFrom); r < at + chunk.length; r++) {
        scores.add(tokens[r + 1]!, row(testLogits, r), refLogits && row(refLogits, r));
      }
      options.onProgress?.(scores.nllTest.count, scores.nllTest.mean);
      fed += chunk.length;
      at += chunk.length;
      chunkRows = Math.max(1, Math.min(MAX_CHUNK_ROWS, Math.floor(CHUNK_FLOATS / vocab)));
    }
  }
  return scores.result(fed);
}
