// `smelt perplexity` as a user runs it (the built CLI in dist/): the report, --json, and one
// coded error line for each mistake (missing, empty or non-UTF-8 text, models that cannot be
// compared, a context the KV cache does not hold, no tokenizer).
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath } from '../models.js';

function smelt(...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'smelt-perplexity-'));
const FIXTURE = 'test/fixtures/stories.txt';
const bin = () => modelPath('stories260K/stories260K.bin');
const tok = () => modelPath('stories260K/tok512.bin');
const q8 = () => modelPath('stories260K/stories260K-q8_0.gguf');
const f32gguf = () => modelPath('stories260K/stories260K-f32.gguf');

describe('smelt perplexity', () => {
  test('q8_0 against f32 on c: --json has both perplexities, KL and top-1', () => {
    const r = smelt('perplexity', 'specs/llama.yaml', '--weights', q8(), '--against', bin(),
      '--text', FIXTURE, '--backend', 'c', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    // ctx: the GGUF's context_length (128) is smaller than the .bin's seq_len (512)
    expect(report).toMatchObject({ text: FIXTURE, tokens: 1384, scored: 1383, ctx: 128,
      stride: 64, windows: 21, backend: 'c', weights: q8(), against: bin() });
    expect(report.fed).toBe(128 * 21);
    expect(report.test.perplexity).toBeGreaterThan(report.reference.perplexity);
    expect(report.comparison.klMean).toBeGreaterThan(0);
    expect(report.comparison.klMean).toBeLessThan(1e-3);
    expect(report.comparison.top1Fraction).toBeGreaterThan(0.97);
    expect(r.stderr).toMatch(
      /^c: 2688 positions fed to each model in [\d.]+ s \(\d+ tok\/s in all\)\n$/);
  });

  // --quant applies to the model under test only: the f32 weights run quantized by the
  // integer kernels against themselves in f32 (measured: KL 7.3e-4, top-1 98.0%)
  test('--quant q8_0 (integer kernels) against the same weights in f32', () => {
    const r = smelt('perplexity', 'specs/stories260k.yaml', '--weights', bin(), '--tokenizer',
      tok(), '--against', bin(), '--text', FIXTURE, '--backend', 'c', '--ctx', '128',
      '--stride', '128', '--quant', 'q8_0', '--json');
    expect(r.code).toBe(0);
    const { comparison } = JSON.parse(r.stdout);
    expect(comparison.klMean).toBeGreaterThan(1e-4);
    expect(comparison.klMean).toBeLessThan(2e-3);
    expect(comparison.top1Fraction).toBeGreaterThan(0.95);
  });

  test('the f32 model against itself: the text report, KL 0 and top-1 100%', () => {
    const r = smelt('perplexity', 'specs/stories260k.yaml', '--weights', bin(), '--tokenizer',
      tok(), '--against', bin(), '--text', FIXTURE, '--backend', 'c', '--ctx', '256');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`text: ${FIXTURE}, 1384 tokens, 1383 predictions in 10 windows of ` +
      '256 (stride 128)');
    expect(lines[1]).toMatch(new RegExp(`^perplexity: 4\\.\\d{4} \\(NLL 1\\.\\d{4} ± 0\\.\\d{4} ` +
      `nats/token\\)  ${bin()}$`));
    expect(lines[2]).toBe(lines[1]!.replace('perplexity', 'reference perplexity'));
    expect(lines[3]).toBe('KL(ref || test): mean 0.000 ± 0.000, median 0.000, p99 0.000, ' +
      'max 0.000 nats/token');
    expect(lines[4]).toBe('top-1 agreement: 100.00% (1383 / 1383)');
  });
});

// util-linux `script` runs the command on a pseudo-terminal, where the progress bar shows
const hasScript = spawnSync('script', ['--version']).status === 0;
const onTerminal = hasScript ? test : test.skip; // skipped only where `script` is not installed

describe('smelt perplexity on a terminal', () => {
  onTerminal('draws a progress bar with the running perplexity on stderr', () => {
    const command = ['node', 'dist/src/cli/main.js', 'perplexity', 'specs/llama.yaml',
      '--weights', q8(), '--text', FIXTURE, '--backend', 'c'].join(' ');
    const r = spawnSync('script', ['-qec', command, '/dev/null'],
      { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/perplexity =+-* \d+\/1383 tokens \| ppl \d\.\d{3} \| eta/);
    expect(r.stdout).toContain('1383/1383 tokens');
    expect(r.stdout).toMatch(/\r?\nperplexity: 4\.\d{4} /);
  });
});

/** stories260K.bin with 88 more (zero) embedding rows: the same model over 600 tokens. */
function widerVocab(): string {
  const bytes = readFileSync(bin());
  const header = new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 28));
  expect(Array.from(header)).toEqual([64, 172, 5, 8, 4, 512, 512]);
  header[5] = 600;
  const embedEnd = 28 + 512 * 64 * 4;
  const path = join(dir, 'vocab600.bin');
  writeFileSync(path, Buffer.concat([Buffer.from(header.buffer), bytes.subarray(28, embedEnd),
    Buffer.alloc(88 * 64 * 4), bytes.subarray(embedEnd)]));
  return path;
}

/** tok512.bin with the piece " the" (id 265) never merged: a different tokenization. */
function tokenizerWithoutThe(): string {
  const bytes = Buffer.from(readFileSync(tok()));
  let at = 4;
  for (let id = 0; id < 265; id++) at += 8 + bytes.readInt32LE(at + 4);
  expect(bytes.subarray(at + 8, at + 12).toString()).toBe(' the');
  bytes.writeFloatLE(-3e10, at); // below run.c's -1e10: never merged
  const path = join(dir, 'tok-no-the.bin');
  writeFileSync(path, bytes);
  return path;
}

describe('smelt perplexity: user mistakes are one coded line and exit code 1', () => {
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const binary = join(dir, 'binary.txt');
  writeFileSync(binary, Uint8Array.of(0x4f, 0xff, 0xfe, 0x6e));
  const run = (...args: string[]) => smelt('perplexity', 'specs/stories260k.yaml', '--weights',
    bin(), '--tokenizer', tok(), ...args);

  test.each([
    ['a missing text file', ['--text', 'nope.txt'],
      'error EVAL801: nope.txt: cannot read: no such file (ENOENT)'],
    ['a folder as the text', ['--text', 'test'],
      'error EVAL801: test: cannot read: is a directory (EISDIR)'],
    ['a text that is not UTF-8', ['--text', binary], `error EVAL801: ${binary}: not UTF-8 text`],
    ['an empty text', ['--text', empty], `error EVAL802: ${empty} is empty: perplexity needs at ` +
      'least one token of text after BOS'],
    ['a context longer than the KV cache', ['--text', FIXTURE, '--ctx', '1000'],
      `error CLI501: --ctx 1000: the KV cache of ${bin()} holds 512 positions (raise it with ` +
      '--param seq_len=N)'],
    ['a stride longer than the context', ['--text', FIXTURE, '--ctx', '64', '--stride', '65'],
      'error CLI501: --stride 65: at most the context of 64 tokens (windows must not skip tokens)'],
    ['a zero context', ['--text', FIXTURE, '--ctx', '0'],
      'error: option \'--ctx <n>\' argument \'0\' is invalid. expected a whole number ≥ 1, ' +
      'got "0"'],
  ])('%s', (_, args, expected) => {
    const r = run(...args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(expected);
  });

  test('no --text is commander\'s required-option error', () => {
    const r = run();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: required option \'--text <file>\' not specified');
  });

  test('a llama2.c checkpoint without --tokenizer is TOK402', () => {
    const r = smelt('perplexity', 'specs/stories260k.yaml', '--weights', bin(), '--text', FIXTURE);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error TOK402: perplexity needs a tokenizer: pass --tokenizer FILE ' +
      '(llama2.c tokenizer .bin), or use GGUF weights that embed a vocabulary\n');
  });

  test('the smaller KV cache of the two models limits --ctx, and is named', () => {
    const r = smelt('perplexity', 'specs/llama.yaml', '--weights', bin(), '--tokenizer', tok(),
      '--against', q8(), '--text', FIXTURE, '--ctx', '129');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error CLI501: --ctx 129: the KV cache of ${q8()} holds 128 ` +
      'positions (raise it with --param seq_len=N)\n');
  });

  test('reference weights over another vocabulary are EVAL803', () => {
    const wide = widerVocab();
    const r = smelt('perplexity', 'specs/llama.yaml', '--weights', bin(), '--tokenizer', tok(),
      '--against', wide, '--text', FIXTURE);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error EVAL803: ${bin()} has a vocabulary of 512 tokens, ${wide} ` +
      'has 600: KL divergence needs the same vocabulary\n');
  });

  test('a reference whose own tokenizer reads the text differently is EVAL803', () => {
    const out = join(dir, 'no-the.gguf');
    const q = smelt('quantize', 'specs/llama.yaml', '--weights', f32gguf(), '--quant', 'f32',
      '--tokenizer', tokenizerWithoutThe(), '-o', out);
    expect(q.code).toBe(0);
    const r = smelt('perplexity', 'specs/llama.yaml', '--weights', f32gguf(), '--against', out,
      '--text', FIXTURE);
    expect(r.code).toBe(1);
    // "Once upon a time, there": without " the", " there" (383) cannot be built either
    expect(r.stderr).toBe(`error EVAL803: ${f32gguf()} and ${out} tokenize ${FIXTURE} ` +
      'differently: token 6 is 383 in the first, 259 in the second\n');
  });
});
