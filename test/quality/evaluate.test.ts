// The streaming evaluator: on a fake model whose logits are a known function of the tokens it
// matches a direct computation, resets the cache per window and feeds every window from
// position 0; on stories260K its perplexity is the one computed from run.c's own logits.
import { describe, expect, test } from '@jest/globals';
import type { Executable } from '../../backends/index.js';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { evaluate } from '../../src/runtime/quality/evaluate.js';
import { windows } from '../../src/runtime/quality/windows.js';
import { modelPath, readGolden } from '../models.js';

/**
 * A bigram "model": the logits after token t are a fixed function of t alone, so windowing
 * cannot change them. It records every step it is given.
 */
class Bigram implements Executable {
  readonly steps: { pos: number; n: number }[] = [];
  resets = 0;
  constructor(readonly vocab: number, readonly maxContext: number, private readonly skew = 0) {}

  logits(prev: number): Float32Array {
    return Float32Array.from({ length: this.vocab },
      (_, i) => Math.sin(prev * 7 + i * 3) * 2 + (i === prev ? this.skew : 0));
  }

  forward(tokens: Int32Array, pos: number): Float32Array {
    expect(pos + tokens.length).toBeLessThanOrEqual(this.maxContext);
    this.steps.push({ pos, n: tokens.length });
    const out = new Float32Array(tokens.length * this.vocab);
    tokens.forEach((t, r) => out.set(this.logits(t), r * this.vocab));
    return out;
  }

  reset(): void {
    this.resets++;
  }
}

/** Mean NLL by the textbook formula, token by token. */
function directNll(tokens: number[], logitsAfter: (prev: number) => ArrayLike<number>): number {
  let sum = 0;
  for (let i = 1; i < tokens.length; i++) {
    const z = Array.from(logitsAfter(tokens[i - 1]!));
    const p = Math.exp(z[tokens[i]!]!) / z.reduce((s, x) => s + Math.exp(x), 0);
    sum -= Math.log(p);
  }
  return sum / (tokens.length - 1);
}

const TOKENS = Int32Array.from({ length: 700 }, (_, i) => (i * 37 + (i >> 3)) % 50);

describe('evaluate on a bigram model', () => {
  test.each([[700, 350], [128, 64], [100, 100], [300, 7]])('ctx %i stride %i: the direct ' +
    'perplexity, every window from position 0 on a fresh cache', (ctx, stride) => {
    const model = new Bigram(50, 1000);
    const plan = windows(TOKENS.length, ctx, stride);
    const r = evaluate(TOKENS, plan, model);
    expect(r.scored).toBe(TOKENS.length - 1);
    expect(r.test.nll).toBeCloseTo(directNll([...TOKENS], (t) => model.logits(t)), 10);
    expect(r.test.perplexity).toBeCloseTo(Math.exp(r.test.nll), 10);
    expect(model.resets).toBe(plan.length);
    // each window is fed as consecutive chunks starting at position 0
    expect(r.fed).toBe(plan.reduce((n, w) => n + w.end - w.start, 0));
    let expectPos = 0;
    for (const s of model.steps) {
      if (s.pos === 0) expectPos = 0;
      expect(s.pos).toBe(expectPos);
      expectPos += s.n;
    }
    expect(model.steps.filter((s) => s.pos === 0)).toHaveLength(plan.length);
  });

  test('against itself: KL 0 and full top-1 agreement', () => {
    const plan = windows(TOKENS.length, 128, 64);
    const r = evaluate(TOKENS, plan, new Bigram(50, 200), new Bigram(50, 200));
    expect(r.comparison).toMatchObject({ klMean: 0, klMax: 0, top1: 699, top1Fraction: 1 });
    expect(r.reference!.nll).toBe(r.test.nll);
  });

  test('against a different model: the direct KL mean and top-1 count', () => {
    const test_ = new Bigram(50, 200, 1.5);
    const ref = new Bigram(50, 200);
    const r = evaluate(TOKENS, windows(TOKENS.length, 128, 64), test_, ref);
    let kl = 0;
    let agree = 0;
    for (let i = 0; i + 1 < TOKENS.length; i++) {
      const [p, q] = [ref.logits(TOKENS[i]!), test_.logits(TOKENS[i]!)].map((z) => {
        const sum = z.reduce((s, x) => s + Math.exp(x), 0);
        return Array.from(z, (x) => Math.exp(x) / sum);
      });
      kl += p!.reduce((s, pi, j) => s + pi * Math.log(pi / q![j]!), 0);
      const top = (xs: number[]) => xs.indexOf(Math.max(...xs));
      if (top(p!) === top(q!)) agree++;
    }
    expect(r.comparison!.klMean).toBeCloseTo(kl / 699, 10);
    expect(r.comparison!.top1).toBe(agree);
    expect(agree).toBeLessThan(699); // the skew does change some argmaxes
    const c = r.comparison!;
    expect(c.klMedian).toBeLessThanOrEqual(c.klP99);
    expect(c.klP99).toBeLessThanOrEqual(c.klMax);
  });

  test('progress is reported after every chunk, ending at the prediction count', () => {
    const seen: number[] = [];
    evaluate(TOKENS, windows(TOKENS.length, 128, 64), new Bigram(50, 200), undefined,
      { onProgress: (n) => seen.push(n) });
    expect(seen.at(-1)).toBe(699);
    expect(seen.every((n, i) => i === 0 || n >= seen[i - 1]!)).toBe(true);
  });
});

interface FullLogits {
  tokens: number[];
  positions: { pos: number; logits: number[] }[];
}

describe('evaluate on stories260K', () => {
  test('the perplexity of run.c\'s own logits (lily and ben, 32 predictions)', async () => {
    const golden = readGolden<FullLogits>('stories260K_full_logits_lily_and_ben.json');
    const loaded = loadModel(loadSpec('specs/stories260k.yaml'),
      { path: modelPath('stories260K/stories260K.bin') });
    const exe = await backendNamed('c').compile(compileInput(loaded), { threads: 1 });
    const tokens = Int32Array.from(golden.tokens);
    expect(golden.positions).toHaveLength(tokens.length - 1);
    // the mean NLL of run.c's logits, position by position
    let sum = 0;
    for (const p of golden.positions) {
      const z = p.logits;
      sum += Math.log(z.reduce((s, x) => s + Math.exp(x), 0)) - z[golden.tokens[p.pos + 1]!]!;
    }
    const runc = sum / golden.positions.length;
    // one window holding everything, and small overlapping windows of 8 positions
    // measured 8.5e-8 apart; the logits contract (1e-4 of run.c's) allows more, 1e-5 is ample
    const whole = evaluate(tokens, windows(tokens.length, 512, 256), exe);
    expect(Math.abs(whole.test.nll - runc)).toBeLessThan(1e-5);
    expect(whole.scored).toBe(32);

    // windows of 8 by 4: each prediction as if the model had seen only its window's tokens
    const plan = windows(tokens.length, 8, 4);
    let brute = 0;
    for (const w of plan) {
      for (let r = w.scoreFrom; r < w.end; r++) {
        exe.reset();
        const z = exe.forward(tokens.subarray(w.start, r + 1), 0).subarray(-512);
        brute += Math.log(z.reduce((s, x) => s + Math.exp(x), 0)) - z[tokens[r + 1]!]!;
      }
    }
    const small = evaluate(tokens, plan, exe);
    // f32 kernels round differently for a prefill of n rows and of n + 4: not bit-equal
    // (measured 1.2e-7); a windowing mistake moves the mean NLL by more than 1e-3
    expect(Math.abs(small.test.nll - brute / 32)).toBeLessThan(1e-5);
    expect(Math.abs(small.test.nll - runc)).toBeGreaterThan(1e-3); // short context costs
  });
});
