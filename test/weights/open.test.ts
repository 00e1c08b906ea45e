// openWeights / readWeightFile: format sniffing on the real files and on temporary files,
// and the errors for missing, empty and unrecognised files.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutLlama2c } from '../../src/runtime/weights/llama2c.js';
import { openWeights, readWeightFile } from '../../src/runtime/weights/open.js';
import { writeSafetensors } from '../../src/runtime/weights/safetensors.js';
import { Bytes, expectSmeltError, prng, storiesBytes } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'smelt-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function temp(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe('real files', () => {
  test.each([
    ['stories260K-f32.gguf', 'gguf'],
    ['stories260K-q4_0.gguf', 'gguf'],
    ['stories260K.bin', 'llama2c'],
    ['stories260K.v1.bin', 'llama2c'],
  ])('%s is %s', (name, kind) => {
    const { path, bytes } = storiesBytes(name);
    const opened = openWeights(path);
    expect(opened.kind).toBe(kind);
    expect(opened.bytes.length).toBe(bytes.length);
  });

  test('readWeightFile returns a WeightFile for GGUF and a header for llama2.c', () => {
    const g = readWeightFile(storiesBytes('stories260K-q8_0.gguf').path);
    if (g.kind === 'llama2c') throw new Error('expected gguf');
    expect(g.file.tensors.size).toBe(48);
    const l = readWeightFile(storiesBytes('stories260K.v1.bin').path);
    if (l.kind !== 'llama2c') throw new Error('expected llama2c');
    expect(l.header).toMatchObject({ version: 1, dim: 64, n_layers: 5, vocab_size: 512 });
  });
});

describe('temporary files', () => {
  test('safetensors written by writeSafetensors', () => {
    const data = Float32Array.from([1, 2, 3]);
    const path = temp('w.safetensors', writeSafetensors([{ name: 'w', shape: [3], data }]));
    const r = readWeightFile(path);
    expect(r.kind).toBe('safetensors');
    if (r.kind !== 'llama2c') expect(r.file.tensors.get('w')!.shape).toEqual([3]);
  });

  test('a truncated legacy checkpoint is still llama2.c; its layout fails with WEIGHT302', () => {
    const path = temp('cut.bin', storiesBytes('stories260K.bin').bytes.subarray(0, 1000));
    const r = readWeightFile(path);
    if (r.kind !== 'llama2c') throw new Error(`expected llama2c, got ${r.kind}`);
    expectSmeltError(
      () => layoutLlama2c(r.path, r.bytes, r.header, [{ name: 'token_embd', shape: [512, 64] }]),
      'WEIGHT302', path, 'tensor token_embd [512, 64] needs 131072 bytes at offset 28',
      'file ends at 1000',
    );
  });

  test('missing files and directories are WEIGHT301 with the OS reason', () => {
    const missing = join(dir, 'nope.gguf');
    expectSmeltError(() => openWeights(missing), 'WEIGHT301', missing, 'no such file', 'ENOENT');
    expectSmeltError(() => readWeightFile(dir), 'WEIGHT301', dir, 'is a directory');
  });

  test('an empty file is WEIGHT302', () => {
    const path = temp('empty.bin', new Uint8Array(0));
    expectSmeltError(() => openWeights(path), 'WEIGHT302', path, 'empty');
  });

  test('unrecognised bytes are WEIGHT303 listing the understood formats', () => {
    const next = prng(5);
    for (let i = 0; i < 50; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(next() * 300) }, () => next() * 256);
      const path = temp(`garbage${i}.bin`, bytes);
      expectSmeltError(() => openWeights(path), 'WEIGHT303', path, 'GGUF', 'safetensors',
        'llama2.c');
    }
    const text = temp('readme.txt', new TextEncoder().encode('# hello, this is not a model\n'));
    expectSmeltError(() => readWeightFile(text), 'WEIGHT303', text, '23 20 68 65');
  });

  test('an implausible legacy header is not llama2.c', () => {
    const bytes = new Bytes();
    for (const v of [64, 172, 5, 7, 4, 512, 512]) bytes.i32(v); // 64 % 7 != 0
    const path = temp('odd.bin', bytes.raw(new Uint8Array(64)).bytes());
    expectSmeltError(() => openWeights(path), 'WEIGHT303', path);
  });
});
