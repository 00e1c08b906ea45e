// `smelt quantize` as a user runs it (the built CLI in dist/): the written GGUF has the
// shared quantized files' tensors and runs to the golden story; one note per fallback;
// a bad --quant, a missing -o and an unwritable -o are one clear error line each.
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { modelPath, readGolden } from '../models.js';

function smelt(...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'smelt-quantize-'));
const f32 = () => modelPath('stories260K/stories260K-f32.gguf');

describe.each(['q8_0', 'q4_0'])('smelt quantize --quant %s', (quant) => {
  const out = join(dir, `stories260K-${quant}.gguf`);
  const r = smelt('quantize', 'specs/llama.yaml', '--weights', f32(), '--quant', quant, '-o', out);

  test('writes the file and prints one note per fallback, then a summary', () => {
    expect(r.code).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[0]).toBe('note: blk.0.ffn_down.weight [64, 172] stored as f16: rows of 172 ' +
      `elements are not a multiple of the 32-element ${quant} block`);
    expect(lines.slice(0, 5).every((l, i) => l.startsWith(`note: blk.${i}.ffn_down.weight`)))
      .toBe(true);
    expect(lines[5]).toMatch(new RegExp(`^wrote ${out}: 48 tensors \\(.*f16 ×5.*\\), ` +
      '[\\d.]+ KiB in [\\d.]+ s$'));
    expect(readdirSync(dir).filter((f) => f.includes('.partial'))).toEqual([]);
  });

  test('our reader sees the shared file\'s tensor names, dtypes and shapes', () => {
    const mine = readGguf(out, readFileSync(out));
    const sharedPath = modelPath(`stories260K/stories260K-${quant}.gguf`);
    const theirs = readGguf(sharedPath, readFileSync(sharedPath));
    const list = (f: typeof mine) => [...f.tensors.values()]
      .map((t) => `${t.name} ${t.dtype} ${t.shape.join('x')}`).sort();
    expect(list(mine)).toEqual(list(theirs));
    expect(mine.metadata.get('general.file_type')).toBe(theirs.metadata.get('general.file_type'));
  });

  test('smelt run on it prints the golden greedy story', () => {
    const golden = readGolden<{ text: string }>(
      `stories260K_${quant}_gguf_greedy_once_upon_a_time.json`);
    const run = smelt('run', 'specs/llama.yaml', '--weights', out, '--temperature', '0',
      '--prompt', 'Once upon a time', '--steps', '64');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(golden.text + '\n');
  });
});

describe('smelt quantize mistakes', () => {
  const args = (quant: string, out: string) =>
    ['quantize', 'specs/llama.yaml', '--weights', f32(), '--quant', quant, '-o', out];

  test('an unknown --quant lists the choices', () => {
    const r = smelt(...args('q5_0', join(dir, 'x.gguf')));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /argument 'q5_0' is invalid\. Allowed choices are q8_0, q4_0, f16, bf16, f32/);
    expect(existsSync(join(dir, 'x.gguf'))).toBe(false);
  });

  test('--quant and -o are required', () => {
    const r = smelt('quantize', 'specs/llama.yaml', '--weights', f32(), '-o', join(dir, 'y.gguf'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/required option '--quant <dtype>' not specified/);
    expect(smelt('quantize', 'specs/llama.yaml', '--weights', f32(), '--quant', 'q8_0').stderr)
      .toMatch(/required option '-o, --out <file>' not specified/);
  });

  test.each([
    ['a missing folder', join(dir, 'missing', 'out.gguf'), 'ENOENT: no such file or directory'],
    ['a path through a file', join(dir, 'file.txt', 'out.gguf'), 'ENOTDIR: not a directory'],
  ])('an unwritable -o (%s) is CLI502 naming the path and the reason', (_, out, reason) => {
    writeFileSync(join(dir, 'file.txt'), 'not a folder');
    const r = smelt(...args('q8_0', out));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error CLI502: cannot write ${out}: ${reason}\n`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('-o without .gguf is CLI501 (quantize writes GGUF only)', () => {
    const out = join(dir, 'model.safetensors');
    const r = smelt(...args('q8_0', out));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error CLI501: -o ${out}: quantize writes GGUF; the file name must ` +
      'end in .gguf\n');
  });

  // the output is written beside and renamed over: over a device it would replace it
  test('-o naming a device with a .gguf name is CLI502, and the device stays one', () => {
    const device = join(dir, 'null.gguf');
    spawnSync('ln', ['-sf', '/dev/null', device]);
    const r = smelt(...args('q8_0', device));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error CLI502: cannot write ${device}: it exists and is not a regular ` +
      'file\n');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
