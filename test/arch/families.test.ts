// Every model family's tiny spec (specs/tiny/*.yaml) end to end: seeded random weights,
// written by init-weights as GGUF and as safetensors, read back through the spec's maps,
// run on ref, c and wasm. Biases and norm gains (zeros and ones at init) get noise first, so
// that every weight matters to the logits and a mis-mapped tensor shows.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import type { CheckpointFormat } from '../../src/runtime/init-weights.js';
import { checkpointBytes } from '../../src/runtime/init-weights.js';
import type { LoadedModel } from '../../src/runtime/load.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { quantizeModel } from '../../src/runtime/quantize.js';
import { uniform } from '../../src/runtime/random.js';

process.env.SMELT_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'smelt-families-cache-'));
const dir = mkdtempSync(join(tmpdir(), 'smelt-families-'));
const SPECS = readdirSync('specs/tiny').filter((f) => f.endsWith('.yaml')).sort();

/** Seeded weights with noise on every gain and bias. */
function noisyModel(path: string): LoadedModel {
  const loaded = loadModel(loadSpec(path), { seed: 11 });
  const next = uniform(99);
  for (const slot of loaded.model.slots) {
    if (slot.decl.init !== 'ones' && slot.decl.init !== 'zeros') continue;
    const data = loaded.weights.get(slot.name)!;
    for (let i = 0; i < data.length; i++) data[i] = data[i]! + (next() - 0.5) * 0.2;
  }
  return loaded;
}

/** A prompt of 5 tokens, then two decode steps; every step's logits, concatenated. */
async function logits(loaded: LoadedModel, backend: string): Promise<Float32Array> {
  const exe = await backendNamed(backend).compile(compileInput(loaded), { threads: 1 });
  const vocab = Number(loaded.model.env.get('vocab_size'));
  const prompt = Int32Array.from([1, 7, 30, 2, 55].map((t) => t % vocab));
  const steps = [exe.forward(prompt, 0), exe.forward(Int32Array.of(9), 5),
    exe.forward(Int32Array.of(4), 6)];
  return Float32Array.from(steps.flatMap((s) => [...s]));
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1, ...b.map(Math.abs));
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0) / scale;
}

/** llama.cpp's architecture name for each family's GGUF (general.architecture). */
const GGUF_ARCH: Record<string, string> = {
  gemma: 'gemma', gpt2: 'gpt2', llama: 'llama', llama3: 'llama', mistral: 'llama',
  mixtral: 'llama', phi3: 'phi3', qwen2: 'qwen2',
};

describe.each(SPECS)('%s', (file) => {
  const path = join('specs/tiny', file);
  const reference = noisyModel(path);
  const read = (format: CheckpointFormat) => {
    const spec = loadSpec(path);
    const out = join(dir, `${file}.${format}`);
    writeFileSync(out, checkpointBytes(spec, reference, format).bytes);
    return loadModel(loadSpec(path), { path: out });
  };

  test.each(['gguf', 'safetensors'] as const)('%s round-trips every weight', (format) => {
    const loaded = read(format);
    const offsets = loadSpec(path).arch.formats[format]!.offset;
    expect([...loaded.weights.keys()]).toEqual([...reference.weights.keys()]);
    for (const slot of reference.model.slots) {
      const [want, got] = [reference.weights.get(slot.name)!, loaded.weights.get(slot.name)!];
      // a weight stored plus a constant comes back within rounding of that addition
      if (offsets.has(slot.decl.name)) expect(maxDiff(got, want)).toBeLessThan(1e-6);
      else expect(got).toEqual(want);
    }
  });

  test('the GGUF names its llama.cpp architecture and sets that prefix\'s keys', () => {
    const loaded = read('gguf');
    const meta = loaded.file!.metadata;
    const family = loadSpec(path).arch.name;
    const arch = GGUF_ARCH[family]!;
    expect(meta.get('general.architecture')).toBe(arch);
    expect(meta.get(`${arch}.block_count`)).toBe(2);
    expect(meta.get(`${arch}.embedding_length`)).toBe(loaded.model.env.get('dim'));
    expect((meta.get('tokenizer.ggml.tokens') as string[]).length)
      .toBe(loaded.model.env.get('vocab_size'));
  });

  test('smelt quantize --quant f32 writes a GGUF that reads back to the same weights', () => {
    const out = join(dir, `${file}.quantized.gguf`);
    writeFileSync(out, quantizeModel(loadSpec(path), reference, 'f32').bytes);
    const loaded = loadModel(loadSpec(path), { path: out });
    for (const [name, data] of reference.weights) {
      expect(maxDiff(loaded.weights.get(name)!, data)).toBeLessThan(1e-6);
    }
  });

  test('the architecture file alone takes every number from the GGUF', () => {
    const gguf = read('gguf');
    const spec = loadSpec(path);
    const alone = loadModel(loadSpec(spec.arch.file), { path: gguf.file!.path });
    for (const [name, value] of gguf.model.env) {
      const got = alone.model.env.get(name);
      if (typeof value === 'number' && !Number.isInteger(value)) {
        expect(got).toBeCloseTo(value, 6); // f32 metadata
      } else {
        expect([name, got]).toEqual([name, value]);
      }
    }
  });

  test.each(['gguf', 'safetensors'] as const)('via %s: c and wasm logits within 1e-4 of ref',
    async (format) => {
      const loaded = read(format);
      const expected = await logits(loaded, 'ref');
      expect(expected.every(Number.isFinite)).toBe(true);
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(1e-3);
      for (const backend of ['c', 'wasm']) {
        expect(maxDiff(await logits(loaded, backend), expected)).toBeLessThan(1e-4);
      }
    });
});
