// stories260K written as a Hugging Face checkpoint (HF tensor names, q/k rows in HF's
// rotate-half order) loads through the spec's safetensors map and reproduces the goldens.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import { generate } from '../../src/runtime/generate.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { halvesToPairs, pairsToHalves } from '../../src/runtime/weights/permute.js';
import { writeSafetensors } from '../../src/runtime/weights/safetensors.js';
import { modelPath, readGolden } from '../models.js';

const SPEC = 'specs/stories260k.yaml';

/** The HF name of each stories260K leaf, from the spec's own safetensors map. */
function hfCheckpoint(): string {
  const spec = loadSpec(SPEC);
  const map = spec.arch.formats.safetensors!;
  const loaded = loadModel(spec, { path: modelPath('stories260K/stories260K.bin') });
  const heads = { wq: 8, wk: 4 } as Record<string, number>;
  const tensors = loaded.model.slots.map((slot) => {
    const names = slot.layer === undefined ? map.weights : map.layerWeights;
    const name = names.get(slot.decl.name)!.tensor.replace('{layer}', String(slot.layer));
    let data = loaded.weights.get(slot.name)!;
    const h = heads[slot.decl.name];
    if (h) data = pairsToHalves(data, slot.shape[0]!, slot.shape[1]!, h);
    return { name, shape: slot.shape, data };
  });
  const path = join(mkdtempSync(join(tmpdir(), 'smelt-hf-')), 'model.safetensors');
  writeFileSync(path, writeSafetensors(tensors));
  return path;
}

describe('Hugging Face safetensors', () => {
  test('the rotary row permutation round-trips', () => {
    const data = Float32Array.from({ length: 16 * 3 }, (_, i) => i);
    expect(halvesToPairs(pairsToHalves(data, 16, 3, 2), 16, 3, 2)).toEqual(data);
    expect(pairsToHalves(data, 16, 3, 2)).not.toEqual(data);
  });

  test('stories260K as an HF checkpoint gives the golden greedy tokens', async () => {
    const golden = readGolden<{ prompt_tokens: number[]; tokens: number[]; steps: number }>(
      'stories260K_greedy_once_upon_a_time.json');
    const loaded = loadModel(loadSpec(SPEC), { path: hfCheckpoint() });
    const exe = await backendNamed('c').compile(compileInput(loaded), { threads: 1 });
    const result = generate(exe, golden.prompt_tokens, { steps: golden.steps, temperature: 0,
      topP: 1, topK: 0, seed: 1, stopTokens: [1] });
    expect(result.tokens).toEqual(golden.tokens);
  });
});
