// Log-softmax, KL divergence and argmax in f64: stable for large logits, exact for equal
// rows, equal to the textbook formulas on small ones.
import { describe, expect, test } from '@jest/globals';
import { SmeltError } from '../../ir/diagnostics.js';
import { argmax, klDivergence, logSumExp } from '../../src/runtime/quality/logprob.js';

const row = (...xs: number[]) => Float32Array.from(xs);

/** Softmax the textbook way, for small logits only. */
function softmax(z: Float32Array): number[] {
  const e = Array.from(z, Math.exp);
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

describe('logSumExp', () => {
  test('equals log Σ exp on small logits', () => {
    const z = row(0.5, -1.25, 2, 0);
    expect(logSumExp(z)).toBeCloseTo(Math.log(Array.from(z, Math.exp).reduce((a, b) => a + b)),
      14);
  });

  test('does not overflow where exp would', () => {
    expect(logSumExp(row(1000, 1000))).toBeCloseTo(1000 + Math.LN2, 10);
    expect(logSumExp(row(-1e30, 3e38))).toBe(Math.fround(3e38));
  });

  test('NaN or infinite logits are RUN604', () => {
    for (const bad of [row(0, NaN), row(Infinity, 0), row(-Infinity, -Infinity)]) {
      let err: unknown;
      try {
        logSumExp(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SmeltError);
      expect((err as SmeltError).code).toBe('RUN604');
    }
  });
});

describe('klDivergence', () => {
  test('is exactly 0 for identical rows', () => {
    const z = row(3.5, -2, 0.25, 7, 7);
    expect(klDivergence(z, logSumExp(z), z, logSumExp(z))).toBe(0);
  });

  test('equals Σ p log(p/q) on small logits', () => {
    const p = row(1, 2, 3);
    const q = row(3, 2, 1);
    const [pp, qq] = [softmax(p), softmax(q)];
    const expected = pp.reduce((s, pi, i) => s + pi * Math.log(pi / qq[i]!), 0);
    expect(klDivergence(p, logSumExp(p), q, logSumExp(q))).toBeCloseTo(expected, 12);
  });

  test('is not symmetric and not negative', () => {
    const p = row(0, 5, 0, 0);
    const q = row(1, 1, 1, 1);
    const pq = klDivergence(p, logSumExp(p), q, logSumExp(q));
    const qp = klDivergence(q, logSumExp(q), p, logSumExp(p));
    expect(pq).toBeGreaterThan(0);
    expect(qp).toBeGreaterThan(pq);
  });

  test('a shift of every logit changes nothing', () => {
    const p = row(0.1, 0.7, -0.3);
    const q = row(100.1, 100.7, 99.7);
    expect(Math.abs(klDivergence(p, logSumExp(p), q, logSumExp(q)))).toBeLessThan(1e-12);
  });
});

describe('argmax', () => {
  test('the largest logit, the first one on ties', () => {
    expect(argmax(row(0, 3, 1, 3))).toBe(1);
    expect(argmax(row(-5))).toBe(0);
    expect(argmax(row(-2, -1, -3))).toBe(1);
  });
});
