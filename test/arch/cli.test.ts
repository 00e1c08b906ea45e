// The architecture commands as a user runs them (the built CLI in dist/): `smelt inspect
// --memory` on every published model file, and `smelt new-arch`.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve('dist/src/cli/main.js');
const smelt = (args: string[], cwd = process.cwd()) => {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

const PUBLISHED = ['gpt2-124m', 'qwen2.5-0.5b', 'llama-3.2-1b', 'smollm2-135m', 'mistral-7b',
  'gemma-2b', 'phi-3-mini', 'mixtral-8x7b', 'stories260k'];

describe('inspect --memory', () => {
  test.each(PUBLISHED)('%s: weights, KV cache per token, arena per layout, wasm32 verdict',
    (name) => {
      const r = smelt(['inspect', `specs/${name}.yaml`, '--memory']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^weights\s+[\d.]+ [KMG]iB\s+\(f32, \d+ tensors/);
      expect(r.stdout).toMatch(/KV cache\s+[\d.]+ [KMG]iB\s+\([\d.]+ KiB per token × \d+ /);
      expect(r.stdout).toMatch(/\n {2}wasm \(panels of 4\)\s+weights\s+[\d.]+ [KMG]iB\s+arena/);
      const verdicts = r.stdout.split('\n').filter((l) => /^ {2}(f32|f16|q8_0|q4_0) /.test(l));
      expect(verdicts).toHaveLength(4);
    });

  test('Qwen2.5-0.5B fits in f32; Mistral-7B only as q4_0 with a shorter cache', () => {
    const qwen = smelt(['inspect', 'specs/qwen2.5-0.5b.yaml', '--memory']).stdout;
    expect(qwen).toMatch(/KV cache\s+768\.0 MiB\s+\(24\.0 KiB per token × 32768 positions\)/);
    expect(qwen).toMatch(/\n {2}f32\s+2\.\d GiB {2}fits\n/);
    const mistral = smelt(['inspect', 'specs/mistral-7b.yaml', '--memory']).stdout;
    expect(mistral).toMatch(/\n {2}f32\s+3\d\.\d GiB {2}does not fit, even without a KV/);
    expect(mistral).toMatch(new RegExp('\n {2}q4_0\\s+1\\d\\.\\d GiB {2}does not fit; a KV ' +
      'cache of at most \\d+ positions would \\(--param seq_len=\\d+\\)'));
  });

  test('absurd dims print their sizes at once: nothing is allocated or unrolled by them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelt-huge-'));
    const spec = join(dir, 'huge.yaml');
    writeFileSync(spec, readFileSync('specs/stories260k.yaml', 'utf8')
      .replace('architecture: llama.yaml', `architecture: ${resolve('specs/llama.yaml')}`)
      .replace('dim: 64', 'dim: 1000000000'));
    const start = Date.now();
    const r = smelt(['inspect', spec, '--memory']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(Date.now() - start).toBeLessThan(15_000);
    expect(r.stdout).toMatch(/^weights\s+\d+\.\d GiB/);
    expect(r.stdout).toMatch(/\n {2}q4_0\s+\d+\.\d GiB {2}does not fit, even without a KV/);
  });
});

describe('new-arch', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smelt-new-arch-'));

  test('writes a renamed copy that runs, and never overwrites it', () => {
    const r = smelt(['new-arch', 'mylm', '--from', 'llama'], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^wrote mylm\.yaml: architecture mylm, a copy of .*llama\.yaml\n$/);
    const text = readFileSync(join(dir, 'mylm.yaml'), 'utf8');
    expect(text).toMatch(/^architecture: mylm$/m);
    expect(text).toContain('dim: mylm.embedding_length');
    expect(text).not.toContain('llama.embedding_length');
    writeFileSync(join(dir, 'model.yaml'), readFileSync('specs/stories260k.yaml', 'utf8')
      .replace('architecture: llama.yaml', 'architecture: mylm.yaml'));
    const run = smelt(['run', 'model.yaml', '--random-weights', '1', '--steps', '3',
      '--temperature', '0'], dir);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split(' ')).toHaveLength(3);

    const again = smelt(['new-arch', 'mylm', '--from', 'llama'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('error CLI502: cannot write mylm.yaml: it exists, and new-arch ' +
      'never overwrites a file\n');
    expect(readFileSync(join(dir, 'mylm.yaml'), 'utf8')).toBe(text);
  });

  test('a name that cannot be a GGUF key prefix is CLI501', () => {
    const r = smelt(['new-arch', 'My-LM', '--from', 'llama'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error CLI501: new-arch My-LM: a family name is lowercase letters, ' +
      'digits and `_`, starting with a letter (it becomes the GGUF key prefix)\n');
  });
});
