// --quant as a user runs it (the built CLI in dist/): a quantized GGUF run in its own
// layouts prints the golden story, `inspect --layouts` names every fallback with its reason,
// `inspect --memory` counts the encoded weights, and a bad policy lists the choices.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath, readGolden } from '../models.js';

function smelt(...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('smelt run --quant', () => {
  test('q4_0 GGUF on c, q4_0 layouts, float kernels: the golden story', () => {
    const golden = readGolden<{ text: string }>(
      'stories260K_q4_0_gguf_greedy_once_upon_a_time.json');
    const r = smelt('run', 'specs/llama.yaml', '--weights',
      modelPath('stories260K/stories260K-q4_0.gguf'), '--temperature', '0', '--prompt',
      'Once upon a time', '--steps', '64', '--backend', 'c', '--quant', 'q4_0',
      '--quant-kernels', 'float');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden.text + '\n');
  });

  test('the stories260k model file on the q4_0 GGUF uses its q8_0 classifier: the golden', () => {
    const golden = readGolden<{ text: string }>(
      'stories260K_q4_0_gguf_greedy_once_upon_a_time.json');
    const r = smelt('run', 'specs/stories260k.yaml', '--weights',
      modelPath('stories260K/stories260K-q4_0.gguf'), '--temperature', '0', '--prompt',
      'Once upon a time', '--steps', '64', '--backend', 'c');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden.text + '\n');
  });

  test('an unknown policy lists the choices', () => {
    const r = smelt('run', 'specs/stories260k.yaml', '--random-weights', '1', '--quant', 'q5_0');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /argument 'q5_0' is invalid\. Allowed choices are f32, f16, q8_0, q4_0, mixed/);
  });

  test('the ref backend says it runs f32 weights', () => {
    const r = smelt('run', 'specs/stories260k.yaml', '--random-weights', '1', '--steps', '2',
      '--quant', 'q8_0', '--seed', '1');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('note: the ref backend interprets f32 weights; the q8_0 ' +
      'layouts apply to --backend c and wasm\n');
  });
});

describe('smelt inspect', () => {
  test('--layouts: every weight with its layout and why, fallbacks counted', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml', '--layouts', '--quant', 'mixed',
      '--target', 'avx2');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('36 matmul/embedding weights, policy mixed, target avx2 (others ' +
      'stay f32 rows):');
    expect(lines[1]).toMatch(
      /^ {2}token_embedding +\[512, 64\] +q8_0x8 +mixed keeps the classifier at q8_0$/);
    expect(lines.filter((l) => /layers\.\d\.wv .* q8_0x8 +mixed keeps the attention V at q8_0$/
      .test(l))).toHaveLength(5);
    expect(lines.filter((l) => /layers\.\d\.wq .* q4_0x8 +mixed policy$/.test(l)))
      .toHaveLength(5);
    expect(lines.filter((l) => l.includes('layers.3.w2'))).toEqual([
      '  layers.3.w2            [64, 172]       f16x8      fallback: rows of 172 are not whole ' +
        '32-element q8_0 blocks']);
    expect(lines.at(-1)).toBe('5 fallbacks');
  });

  test('--memory counts encoded weights; a model file\'s quant: section is the default', () => {
    const size = (out: string) => Number(/^weights +([\d.]+) KiB/.exec(out)![1]);
    const f32 = smelt('inspect', 'specs/stories260k.yaml', '--memory', '--target', 'avx512');
    const q8 = smelt('inspect', 'specs/stories260k.yaml', '--memory', '--target', 'avx512',
      '--quant', 'q8_0');
    expect(f32.stdout).toMatch(/^weights +1\.0 MiB +\(f32, 47 tensors/);
    // q8_0 panels: 34/32 bytes a weight, the f16 fallbacks 2, the norms f32
    expect(size(q8.stdout)).toBeGreaterThan(300);
    expect(size(q8.stdout)).toBeLessThan(330);
    const dir = mkdtempSync(join(tmpdir(), 'smelt-quant-spec-'));
    writeFileSync(join(dir, 'model.yaml'), 'model: m\narchitecture: ' +
      join(process.cwd(), 'specs', 'llama.yaml') + '\nparams: { dim: 64, hidden_dim: 172, ' +
      'n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512, seq_len: 512, ' +
      'tied_output: true }\nquant: { policy: q8_0 }\n');
    const spec = smelt('inspect', join(dir, 'model.yaml'), '--memory', '--target', 'avx512');
    expect(spec.stdout.split('\n')[0]).toBe(q8.stdout.split('\n')[0]);
  });
});
