// Quantizing stories260K reproduces llama.cpp's llama-quantize output: every tensor of the
// shared q8_0 / q4_0 GGUFs byte for byte (same dtype choice for every tensor, fallbacks
// included), the metadata that matters, and the golden greedy ids when the written file is
// run (dequantized to f32). From the llama2.c .bin + tok512.bin, the same tensors and the
// vocabulary exactly as llama.cpp's converter wrote it into the shared f32 GGUF.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { backendNamed } from '../../backends/index.js';
import type { StoredDType } from '../../ir/quant.js';
import { STORED } from '../../ir/quant.js';
import { loadSpec } from '../../src/frontend/index.js';
import { generate } from '../../src/runtime/generate.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { quantizeModel } from '../../src/runtime/quantize.js';
import { loadLlama2cVocab, tokenizerFromGguf } from '../../src/runtime/tokenizer/index.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { writeGguf } from '../../src/runtime/weights/gguf-write.js';
import type { WeightFile } from '../../src/runtime/weights/types.js';
import { modelPath, readGolden } from '../models.js';
import { storiesBytes } from '../weights/helpers.js';

const SPEC = loadSpec('specs/llama.yaml');
const FROM_GGUF = loadModel(SPEC, { path: modelPath('stories260K/stories260K-f32.gguf') });
const dir = mkdtempSync(join(tmpdir(), 'smelt-quant-'));

function shared(name: string): WeightFile {
  const { path, bytes } = storiesBytes(name);
  return readGguf(path, bytes);
}

function raw(file: WeightFile, name: string): Uint8Array {
  const t = file.tensors.get(name)!;
  return file.bytes.subarray(t.offset, t.offset + t.byteLength);
}

/** "" when equal, else the first differing block of `name` with both byte runs. */
function firstDifference(mine: WeightFile, theirs: WeightFile, name: string): string {
  const a = raw(mine, name);
  const b = raw(theirs, name);
  if (Buffer.compare(a, b) === 0) return '';
  const size = Math.max(16, STORED[theirs.tensors.get(name)!.dtype].bytes); // a block, or 16 B
  const i = a.findIndex((x, k) => x !== b[k]);
  const at = i < 0 ? Math.min(a.length, b.length) : i - (i % size);
  const run = (x: Uint8Array) => x.subarray(at, at + size).join(' ');
  return `${name}: byte ${i} (block at ${at}) ${run(a)} vs ${run(b)}`;
}

const KEYS_THAT_MATTER = (file: WeightFile) => [...file.metadata.keys()].filter((k) =>
  k === 'general.architecture' || k.startsWith('llama.') || k.startsWith('tokenizer.') ||
  k === 'general.file_type' || k === 'general.quantization_version');

describe.each(['q8_0', 'q4_0'] as const)('stories260K f32 GGUF → %s', (target) => {
  const result = quantizeModel(SPEC, FROM_GGUF, target);
  const mine = readGguf(`${target}.gguf`, result.bytes);
  const theirs = shared(`stories260K-${target}.gguf`);

  test('the same tensors, each with the same dtype and shape', () => {
    const describe = (f: WeightFile) => [...f.tensors.values()]
      .map((t) => `${t.name} ${t.dtype} [${t.shape.join(', ')}]`).sort();
    expect(describe(mine)).toEqual(describe(theirs));
  });

  test('every tensor is byte for byte the one llama-quantize wrote', () => {
    const diffs = [...theirs.tensors.keys()].map((n) => firstDifference(mine, theirs, n));
    expect(diffs.filter((d) => d !== '')).toEqual([]);
    expect(mine.tensors.size).toBe(48);
  });

  test('the five ffn_down tensors fall back to f16, saying why', () => {
    const fallbacks = result.tensors.filter((t) => t.fallback);
    expect(fallbacks.map((t) => t.name)).toEqual([0, 1, 2, 3, 4].map((l) =>
      `blk.${l}.ffn_down.weight`));
    expect(fallbacks[0]!.fallback).toBe(
      `rows of 172 elements are not a multiple of the 32-element ${target} block`);
    expect(result.tensors.find((t) => t.name === 'output.weight')!.dtype).toBe('q8_0');
  });

  test('the same values and types for the architecture, llama.* and tokenizer keys', () => {
    for (const key of KEYS_THAT_MATTER(theirs)) {
      expect([key, mine.metadata.get(key)]).toEqual([key, theirs.metadata.get(key)]);
      expect([key, mine.ggufTypes!.get(key)]).toEqual([key, theirs.ggufTypes!.get(key)]);
    }
    expect(mine.metadata.get('llama.rope.freq_base')).toBe(10000); // from the spec's default
  });

  test('run greedily, it gives the golden ids', async () => {
    const path = join(dir, `stories260K-${target}.gguf`);
    writeFileSync(path, result.bytes);
    const golden = readGolden<{ prompt: string; steps: number; tokens: number[] }>(
      `stories260K_${target}_gguf_greedy_once_upon_a_time.json`);
    const loaded = loadModel(SPEC, { path });
    const tokenizer = tokenizerFromGguf(loaded.file!.metadata, path);
    const exe = await backendNamed('ref').compile(compileInput(loaded), { threads: 1 });
    const run = generate(exe, tokenizer.encode(golden.prompt), { steps: golden.steps,
      temperature: 0, topP: 1, topK: 0, seed: 0, stopTokens: [tokenizer.bos] });
    expect(run.tokens).toEqual(golden.tokens);
  });
});

describe('other targets', () => {
  test.each(['f16', 'bf16'] as const)('every 2-D tensor as %s, norms stay f32', (target) => {
    const file = readGguf('x.gguf', quantizeModel(SPEC, FROM_GGUF, target).bytes);
    for (const t of file.tensors.values()) {
      expect([t.name, t.dtype]).toEqual([t.name, t.shape.length === 1 ? 'f32' : target]);
    }
    expect(file.metadata.get('general.file_type')).toBe(target === 'f16' ? 1 : 32);
  });

  test('f32: the tensors of the f32 GGUF, bit for bit', () => {
    const file = readGguf('x.gguf', quantizeModel(SPEC, FROM_GGUF, 'f32').bytes);
    const f32 = shared('stories260K-f32.gguf');
    for (const name of f32.tensors.keys()) expect(firstDifference(file, f32, name)).toBe('');
    expect(file.metadata.get('general.file_type')).toBe(0);
  });
});

describe('from the llama2.c checkpoint and tok512.bin', () => {
  const loaded = loadModel(SPEC, { path: modelPath('stories260K/stories260K.bin') });
  const vocab = loadLlama2cVocab(modelPath('stories260K/tok512.bin'), 512);
  const f32 = shared('stories260K-f32.gguf');

  test.each(['q8_0', 'q4_0'] as StoredDType[])(
    '%s: the shared file\'s tensors, tied output included', (target) => {
      const mine = readGguf('x.gguf', quantizeModel(SPEC, loaded, target, vocab).bytes);
      const theirs = shared(`stories260K-${target}.gguf`);
      const diffs = [...theirs.tensors.keys()].map((n) => firstDifference(mine, theirs, n));
      expect(diffs.filter((d) => d !== '')).toEqual([]);
    });

  test('the vocabulary as llama.cpp\'s converter wrote it', () => {
    const mine = readGguf('x.gguf', quantizeModel(SPEC, loaded, 'q8_0', vocab).bytes);
    for (const key of [...f32.metadata.keys()].filter((k) => k.startsWith('tokenizer.'))) {
      expect([key, mine.metadata.get(key)]).toEqual([key, f32.metadata.get(key)]);
      expect([key, mine.ggufTypes!.get(key)]).toEqual([key, f32.ggufTypes!.get(key)]);
    }
    expect(mine.metadata.get('general.architecture')).toBe('llama');
    expect(mine.metadata.get('llama.context_length')).toBe(512); // the .bin header's seq_len
  });
});

describe('which classifier a GGUF gives (llama.cpp\'s rule)', () => {
  const tied = (path: string, spec = SPEC) => {
    const loaded = loadModel(spec, { path });
    const hasOutput = loaded.model.slots.some((s) => s.name === 'output');
    return [loaded.model.env.get('tied_output'), hasOutput];
  };

  test('a file that stores output.weight uses it: the q4_0 file\'s q8_0 classifier', () => {
    expect(tied(modelPath('stories260K/stories260K-q4_0.gguf'))).toEqual([false, true]);
  });

  test('a file without output.weight ties the classifier to token_embd', () => {
    const f32 = shared('stories260K-f32.gguf');
    const [metadata, tensors] = [
      [...f32.metadata].map(([key, value]) => ({ key, value, type: f32.ggufTypes!.get(key)! })),
      [...f32.tensors.values()].filter((t) => t.name !== 'output.weight').map((t) =>
        ({ name: t.name, dtype: t.dtype, shape: t.shape, data: raw(f32, t.name) })),
    ];
    const path = join(dir, 'no-output.gguf');
    writeFileSync(path, writeGguf(metadata, tensors));
    expect(tied(path)).toEqual([true, false]);
  });

  test('specs/stories260k.yaml leaves the tie to the file', () => {
    const spec = loadSpec('specs/stories260k.yaml');
    expect(tied(modelPath('stories260K/stories260K-q4_0.gguf'), spec)).toEqual([false, true]);
    expect(tied(modelPath('stories260K/stories260K.bin'), spec)).toEqual([true, false]);
  });

  test('a model file that sets tied_output keeps its value', () => {
    const path = join(dir, 'tied.yaml');
    writeFileSync(path, readFileSync('specs/stories260k.yaml', 'utf8')
      .replace('architecture: llama.yaml', `architecture: ${resolve('specs/llama.yaml')}`)
      .replace('rope_theta: 10000.0', 'rope_theta: 10000.0\n  tied_output: true'));
    const spec = loadSpec(path);
    expect(tied(modelPath('stories260K/stories260K-q4_0.gguf'), spec)).toEqual([true, false]);
  });
});
