// `initWeights` and `smelt init-weights`: the written GGUF and safetensors files read back
// (through the spec's own maps) to exactly the weights of `--random-weights SEED`; the
// GGUF carries the architecture's metadata keys and no tensor for a tied classifier; the
// safetensors file stores q/k rows in Hugging Face's half-split order.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec } from '../../src/frontend/index.js';
import { initWeights } from '../../src/runtime/init-weights.js';
import { loadModel } from '../../src/runtime/load.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { pairsToHalves } from '../../src/runtime/weights/permute.js';
import { readSafetensors } from '../../src/runtime/weights/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'smelt-init-'));
const SPEC = 'specs/stories260k.yaml';

function written(format: 'gguf' | 'safetensors', seed = 5): string {
  const path = join(dir, `model-${seed}.${format}`);
  writeFileSync(path, initWeights(loadSpec(SPEC), seed, format).bytes);
  return path;
}

describe.each(['gguf', 'safetensors'] as const)('init-weights as %s', (format) => {
  test('reads back to the --random-weights data, tensor for tensor', () => {
    const path = written(format);
    const fromFile = loadModel(loadSpec(SPEC), { path });
    const random = loadModel(loadSpec(SPEC), { seed: 5 });
    expect([...fromFile.weights.keys()]).toEqual([...random.weights.keys()]);
    for (const [name, data] of random.weights) expect(fromFile.weights.get(name)).toEqual(data);
  });

  test('another seed gives other weights', () => {
    const a = loadModel(loadSpec(SPEC), { path: written(format, 1) });
    const b = loadModel(loadSpec(SPEC), { path: written(format, 2) });
    expect(a.weights.get('layers.0.wq')).not.toEqual(b.weights.get('layers.0.wq'));
  });
});

test('the GGUF has llama.* keys, a vocabulary length and no output.weight (tied)', () => {
  const path = written('gguf');
  const file = readGguf(path, new Uint8Array(readFileSync(path)));
  expect(file.metadata.get('general.architecture')).toBe('llama');
  expect(file.metadata.get('general.name')).toBe('stories260k');
  expect(file.metadata.get('llama.block_count')).toBe(5);
  expect(file.metadata.get('llama.embedding_length')).toBe(64);
  expect((file.metadata.get('tokenizer.ggml.tokens') as string[]).length).toBe(512);
  // llama.cpp's "no vocabulary", so its loader accepts the file without a tokenizer
  expect(file.metadata.get('tokenizer.ggml.model')).toBe('none');
  expect(file.metadata.get('llama.vocab_size')).toBe(512);
  expect(file.tensors.has('output.weight')).toBe(false);
  expect(file.tensors.get('token_embd.weight')!.shape).toEqual([512, 64]);
  // the architecture alone binds its numbers from this file
  const arch = loadModel(loadSpec('specs/llama.yaml'), { path });
  expect(arch.model.env.get('vocab_size')).toBe(512);
  expect(arch.model.env.get('tied_output')).toBe(true);
});

test('safetensors stores wq in the half-split order Hugging Face uses', () => {
  const path = written('safetensors');
  const file = readSafetensors(path, new Uint8Array(readFileSync(path)));
  const t = file.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
  const stored = new Float32Array(file.bytes.slice(t.offset, t.offset + t.byteLength).buffer);
  const pairs = loadModel(loadSpec(SPEC), { seed: 5 }).weights.get('layers.0.wq')!;
  expect(stored).toEqual(pairsToHalves(pairs, 64, 64, 8));
  expect(file.tensors.has('lm_head.weight')).toBe(false);
});

describe('smelt init-weights (built CLI)', () => {
  const smelt = (...args: string[]) => spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', timeout: 60_000 });

  test('writes the file and says so', () => {
    const out = join(dir, 'cli.gguf');
    const r = smelt('init-weights', SPEC, '--seed', '3', '-o', out);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^wrote ${out}: 47 tensors \\(f32, seed 3\\), `));
  });

  test('smelt run on the written GGUF prints token ids (no vocabulary)', () => {
    const out = join(dir, 'run.gguf');
    expect(smelt('init-weights', SPEC, '--seed', '3', '-o', out).status).toBe(0);
    const r = smelt('run', 'specs/llama.yaml', '--weights', out, '--steps', '4',
      '--temperature', '0');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^(\d+ ){4}\n$/);
  });

  test('an unknown extension is CLI501', () => {
    const r = smelt('init-weights', SPEC, '--seed', '3', '-o', join(dir, 'x.bin'));
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`error CLI501: -o ${join(dir, 'x.bin')}: the file name must end in ` +
      '.gguf or .safetensors (the format to write)\n');
  });
});
