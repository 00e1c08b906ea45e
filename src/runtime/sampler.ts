// Token sampling with llama2.c run.c semantics, so seeded runs reproduce run.c's output.
//
// - temperature 0 is greedy (argmax; the lowest id wins ties);
// - otherwise logits / temperature, softmax in f32, optionally top-k, then top-p nucleus
//   (p >= 1 samples the whole distribution);
// - the generator is run.c's 64-bit xorshift*: one u32 → one f32 coin per sampled token.

export interface SamplerOptions {
  temperature: number;
  topP: number; // 1 disables nucleus sampling
  topK: number; // 0 disables top-k
  seed: number;
}

import { SmeltError } from '../../ir/diagnostics.js';

const MASK64 = (1n << 64n) - 1n;

export class Sampler {
  private state: bigint;

  /** `seed` must be ≥ 1: xorshift's state 0 never leaves 0 (run.c takes the clock then). */
  constructor(private readonly options: SamplerOptions) {
    this.state = BigInt.asUintN(64, BigInt(options.seed));
  }

  /** run.c random_u32: xorshift on 64 bits, then the high half of state · 0x2545F4914F6CDD1D. */
  nextU32(): number {
    let x = this.state;
    x ^= x >> 12n;
    x = (x ^ (x << 25n)) & MASK64;
    x ^= x >> 27n;
    this.state = x;
    return Number(((x * 0x2545f4914f6cdd1dn) & MASK64) >> 32n);
  }

  /** A uniform f32 in [0, 1) with 24 bits, as run.c's random_f32. */
  nextF32(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  sample(logits: Float32Array): number {
    const { temperature, topP, topK } = this.options;
    if (logits.some(Number.isNaN)) {
      throw new SmeltError('RUN604', 'the model produced NaN logits (non-finite weights, or a ' +
        'numerically broken spec such as a negative norm eps)');
    }
    if (temperature === 0) return argmax(logits);
    const scaled = logits.map((v) => Math.fround(v / temperature));
    // a temperature so small that logits overflow is the greedy limit
    if (!scaled.every(Number.isFinite)) return argmax(logits);
    const probs = softmax(scaled);
    if (topK > 0 && topK < probs.length) keepTopK(probs, topK);
    const coin = this.nextF32();
    return topP > 0 && topP < 1 ? sampleTopP(probs, topP, coin) : sampleMultinomial(probs, coin);
  }
}

export function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Softmax in f32, like run.c: subtract the max, exponentiate, normalize. */
export function softmax(x: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  const out = new Float32Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    out[i] = Math.exp(x[i]! - max);
    sum = Math.fround(sum + out[i]!);
  }
  for (let i = 0; i < x.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Zeroes all but the k most probable tokens and renormalizes. */
function keepTopK(probs: Float32Array, k: number): void {
  const threshold = [...probs].sort((a, b) => b - a)[k - 1]!;
  let kept = 0;
  let sum = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i]! >= threshold && kept < k) {
      kept++;
      sum += probs[i]!;
    } else {
      probs[i] = 0;
    }
  }
  for (let i = 0; i < probs.length; i++) probs[i] = probs[i]! / sum;
}

function sampleMultinomial(probs: Float32Array, coin: number): number {
  let cdf = 0;
  for (let i = 0; i < probs.length; i++) {
    cdf = Math.fround(cdf + probs[i]!);
    if (coin < cdf) return i;
  }
  return probs.length - 1;
}

/** run.c sample_topp: candidates above (1-p)/(n-1), sorted, cut where the mass passes p. */
function sampleTopP(probs: Float32Array, topP: number, coin: number): number {
  const cutoff = Math.fround((1 - topP) / (probs.length - 1));
  const candidates: { index: number; prob: number }[] = [];
  probs.forEach((prob, index) => {
    if (prob >= cutoff) candidates.push({ index, prob });
  });
  candidates.sort((a, b) => b.prob - a.prob);
  let cumulative = 0;
  let last = candidates.length - 1;
  for (let i = 0; i < candidates.length; i++) {
    cumulative = Math.fround(cumulative + candidates[i]!.prob);
    if (cumulative > topP) {
      last = i;
      break;
    }
  }
  const r = Math.fround(coin * cumulative);
  let cdf = 0;
  for (let i = 0; i <= last; i++) {
    cdf = Math.fround(cdf + candidates[i]!.prob);
    if (r < cdf) return candidates[i]!.index;
  }
  return candidates[last]!.index;
}
