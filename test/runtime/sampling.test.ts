// Seeded sampling reproduces run.c token for token (temperature, top-p, xorshift RNG).
import { describe, expect, test } from '@jest/globals';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import { generate } from '../../src/runtime/generate.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { Sampler } from '../../src/runtime/sampler.js';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/index.js';
import { modelPath, readGolden } from '../models.js';

interface Case {
  prompt: string;
  steps: number;
  temperature: number;
  topp: number;
  seed: number;
  tokens: number[];
}

const cases = readGolden<{ cases: Case[] }>('stories260K_sampling_runc.json').cases;

describe('run.c sampler', () => {
  const loaded = loadModel(loadSpec('specs/stories260k.yaml'),
    { path: modelPath('stories260K/stories260K.bin') });
  const tokenizer = loadLlama2cTokenizer(modelPath('stories260K/tok512.bin'), 512);

  const titled = cases.map((c) =>
    [`"${c.prompt}" t=${c.temperature} p=${c.topp} seed=${c.seed}`, c] as const);
  test.each(titled)(
    '%s', async (_, c) => {
      const exe = await backendNamed('ref').compile(compileInput(loaded), { threads: 1 });
      const result = generate(exe, tokenizer.encode(c.prompt), {
        steps: c.steps, temperature: c.temperature, topP: c.topp, topK: 0, seed: c.seed,
        stopTokens: [tokenizer.bos],
      });
      expect(result.tokens).toEqual(c.tokens);
    });

  test('top-k 1 is greedy whatever the temperature', () => {
    const logits = Float32Array.of(0.1, 2.5, 2.4, -1);
    const sampler = new Sampler({ temperature: 5, topP: 1, topK: 1, seed: 3 });
    for (let i = 0; i < 20; i++) expect(sampler.sample(logits)).toBe(1);
  });
});
