// How a text longer than the context is cut into windows for perplexity.
//
// Tokens t[0..n) (t[0] is BOS); row r of a step's logits predicts t[r + 1], so there are
// n − 1 predictions. A window feeds t[start, end) from position 0 (a fresh KV cache) and
// scores the rows r in [scoreFrom, end), the ones no earlier window scored:
//
//   window 0:  feeds t[0, ctx)                          scores every row: t[1..ctx]
//   window k:  end = min(ctx + k·stride, n − 1), start = end − ctx
//              scores rows [end_{k−1}, end_k): `stride` predictions (fewer in the last one)
//
// So every prediction is scored exactly once, each with at least ctx − stride tokens of
// context (except the first ctx, which have all the text there is), and a window never
// holds more than ctx positions. stride = ctx gives disjoint windows (fastest, least
// context); the default stride of ctx / 2 feeds each token about twice.

import { InternalError } from '../../../ir/diagnostics.js';

export interface Window {
  start: number; // first token fed, at position 0
  end: number; // one past the last token fed
  scoreFrom: number; // first row scored; rows [scoreFrom, end) predict t[scoreFrom + 1 ..]
}

/** The windows over `n` tokens, as described above; n ≥ 2, 1 ≤ stride ≤ ctx. */
export function windows(n: number, ctx: number, stride: number): Window[] {
  if (n < 2 || ctx < 1 || stride < 1 || stride > ctx) {
    throw new InternalError('perplexity windows', `n ${n}, ctx ${ctx}, stride ${stride}`);
  }
  const last = n - 1; // rows that predict a token
  const out: Window[] = [{ start: 0, end: Math.min(ctx, last), scoreFrom: 0 }];
  while (out[out.length - 1]!.end < last) {
    const scoreFrom = out[out.length - 1]!.end;
    const end = Math.min(scoreFrom + stride, last);
    out.push({ start: end - ctx, end, scoreFrom });
  }
  return out;
}

/** Default stride: half the context, at least one token. */
export function defaultStride(ctx: number): number {
  return Math.max(1, Math.floor(ctx / 2));
}
