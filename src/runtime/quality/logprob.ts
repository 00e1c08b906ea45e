// Per-row numerics of the quality metrics: log-softmax, KL divergence and the top-1 token,
// all in f64 from f32 logits.
//
// Stable form: log p_i = z_i − lse(z), lse(z) = m + log Σ exp(z_j − m) with m = max z, so no
// exp overflows and the largest term is exactly 1. KL(P ‖ Q) = Σ p_i (log p_i − log q_i) is
// summed term by term from the log-probabilities (never from a ratio of probabilities), so
// two identical rows give exactly 0. A row with a NaN or an infinity is RUN604.

import { SmeltError } from '../../../ir/diagnostics.js';

/** log Σ exp(row), in f64. */
export function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = row[i]! > max ? row[i]! : max;
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += Math.exp(row[i]! - max);
  const lse = max + Math.log(sum);
  if (!Number.isFinite(lse)) {
    throw new SmeltError('RUN604', 'the model produced non-finite logits (NaN or infinity): ' +
      'non-finite weights, or a kernel bug');
  }
  return lse;
}

/** The index of the largest logit; the first one on ties. */
export function argmax(row: Float32Array): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** KL(P ‖ Q) in nats, P = softmax(p), Q = softmax(q), given each row's log-sum-exp. */
export function klDivergence(p: Float32Array, lseP: number, q: Float32Array, lseQ: number) {
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const logP = p[i]! - lseP;
    kl += Math.exp(logP) * (logP - (q[i]! - lseQ));
  }
  return kl;
}
