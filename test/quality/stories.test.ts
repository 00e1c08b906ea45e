// Quality of stories260K's checkpoints on the children's-stories fixture (test/fixtures/
// stories.txt, 1384 tokens), in windows of 128 by 64 (128 is the GGUFs' context_length).
//
// Bounds: measured once on the float path (quantized weights dequantized at load), then set
// with a margin of about 2–3× on KL and a few points on top-1, so that a kernel or loader
// change that makes quantized models noticeably worse fails, while the noise of f32
// summation order does not. Measured (c backend; ref and wasm agree to 1e-7):
//
//   weights           perplexity   KL(f32 ‖ w) mean   top-1 vs f32
//   f32 (.bin)        4.3412       —                  —
//   q8_0 GGUF         4.3442       3.47e-4            98.92% (1368 / 1383)
//   q4_0 GGUF         4.6629       7.50e-2            86.26% (1193 / 1383)
import { beforeAll, describe, expect, test } from '@jest/globals';
import type { Executable } from '../../backends/index.js';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { evaluate } from '../../src/runtime/quality/evaluate.js';
import { readText, textTokens } from '../../src/runtime/quality/text.js';
import { windows } from '../../src/runtime/quality/windows.js';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/index.js';
import { modelPath } from '../models.js';

const FIXTURE = 'test/fixtures/stories.txt';
const spec = loadSpec('specs/llama.yaml');
const tokenizer = loadLlama2cTokenizer(modelPath('stories260K/tok512.bin'), 512);
const tokens = textTokens(readText(FIXTURE), tokenizer, FIXTURE);
const plan = windows(tokens.length, 128, 64);

async function compiled(file: string, backend = 'c', threads = 1): Promise<Executable> {
  const loaded = loadModel(spec, { path: modelPath(`stories260K/${file}`) });
  return backendNamed(backend).compile(compileInput(loaded), { threads });
}

let f32: Executable;
beforeAll(async () => {
  f32 = await compiled('stories260K.bin');
});

describe('stories260K against its f32 weights', () => {
  test('the fixture is about 1.4k tokens, all 1383 predictions scored', () => {
    expect(tokens.length).toBe(1384);
    expect(evaluate(tokens, plan, f32).scored).toBe(1383);
  });

  test('the f32 model against itself: KL 0 and top-1 100%', async () => {
    const r = evaluate(tokens, plan, f32, await compiled('stories260K.bin'));
    expect(r.comparison).toMatchObject({ klMean: 0, klMax: 0, top1: 1383, top1Fraction: 1 });
    expect(r.reference!.perplexity).toBe(r.test.perplexity);
  });

  test('the f32 GGUF (untied classifier, same values) against the .bin: KL ≈ 0', async () => {
    const r = evaluate(tokens, plan, await compiled('stories260K-f32.gguf'), f32);
    expect(r.comparison!.klMax).toBeLessThan(1e-9);
    expect(r.comparison!.top1).toBe(1383);
  });

  test.each([
    // file, KL mean below, top-1 at least, relative perplexity rise below
    ['stories260K-q8_0.gguf', 1e-3, 0.97, 0.005],
    ['stories260K-q4_0.gguf', 0.15, 0.80, 0.15],
  ])('%s: KL under %f, top-1 at least %f, perplexity within %f', async (file, kl, top1, rise) => {
    const r = evaluate(tokens, plan, await compiled(file), f32);
    const c = r.comparison!;
    expect(c.klMean).toBeLessThan(kl);
    expect(c.klMean).toBeGreaterThan(kl / 100); // the weights really are quantized
    expect(c.top1Fraction).toBeGreaterThanOrEqual(top1);
    expect(Math.abs(r.test.perplexity / r.reference!.perplexity - 1)).toBeLessThan(rise);
  });
});

describe('the f32 perplexity is the same on every backend', () => {
  // the first 400 tokens (6 windows): the ref interpreter takes ~8 ms per position under Jest
  const head = tokens.subarray(0, 400);
  const headPlan = windows(head.length, 128, 64);

  test.each([['ref', 1], ['wasm', 1], ['c', 2]] as const)('%s with %i thread(s) agrees with c ' +
    'within 1e-5 (relative)', async (backend, threads) => {
    const ppl = evaluate(head, headPlan, f32).test.perplexity;
    expect(ppl).toBeGreaterThan(1);
    expect(ppl).toBeLessThan(10); // a trained model on its own kind of text
    const other = evaluate(head, headPlan, await compiled('stories260K.bin', backend, threads));
    expect(Math.abs(other.test.perplexity / ppl - 1)).toBeLessThan(1e-5);
  });
});
