// run.c encode()/decode() goldens for both llama2.c tokenizer files, and llama.cpp's SPM
// vectors for the 32000-token vocabulary (see docs/tokenizer.md).
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/llama2c.js';
import { modelPath, readGolden } from '../models.js';

interface EncodeCase {
  text: string;
  tokens: number[];
  decoded: string;
}

const GOLDENS = [
  { golden: 'tok512_encode_runc.json', file: 'stories260K/tok512.bin', vocabSize: 512 },
  {
    golden: 'tokenizer32000_encode_runc.json',
    file: 'llama2-tokenizer/tokenizer.bin',
    vocabSize: 32000,
  },
];

describe.each(GOLDENS)('$golden', ({ golden, file, vocabSize }) => {
  const tokenizer = loadLlama2cTokenizer(modelPath(file), vocabSize);
  const cases = readGolden<{ cases: EncodeCase[] }>(golden).cases;

  test('holds the 12 cases', () => {
    expect(cases).toHaveLength(12);
  });

  test.each(cases)('encode($text)', ({ text, tokens }) => {
    expect(tokenizer.encode(text)).toEqual(tokens);
  });

  test.each(cases)('decode of encode($text)', ({ tokens, decoded }) => {
    expect(tokenizer.decode(tokens)).toBe(decoded);
  });
});

/** llama.cpp's vectors: inputs end with the separator, outputs are one id line per input. */
function llamaCppVectors(): { text: string; ids: number[] }[] {
  const separator = '\n__ggml_vocab_test__\n';
  const inp = readFileSync(modelPath('llama2-tokenizer/ggml-vocab-llama-spm.gguf.inp'), 'utf8');
  const out = readFileSync(modelPath('llama2-tokenizer/ggml-vocab-llama-spm.gguf.out'), 'utf8');
  if (!inp.endsWith(separator) || !out.endsWith('\n')) throw new Error('unexpected vector files');
  const texts = inp.slice(0, -separator.length).split(separator);
  const lines = out.slice(0, -1).split('\n');
  if (texts.length !== lines.length) {
    throw new Error(`${texts.length} inputs but ${lines.length} output lines`);
  }
  return texts.map((text, k) => ({
    text,
    ids: lines[k]!.split(' ').filter((s) => s !== '').map(Number),
  }));
}

describe('llama.cpp ggml-vocab-llama-spm vectors on tokenizer.bin', () => {
  const tokenizer = loadLlama2cTokenizer(modelPath('llama2-tokenizer/tokenizer.bin'), 32000);
  const vectors = llamaCppVectors();

  test('hold 46 cases', () => {
    expect(vectors).toHaveLength(46);
  });

  test.each(vectors.map((v, k) => ({ k, ...v })))('case $k', ({ text, ids }) => {
    expect(tokenizer.encode(text, { bos: false })).toEqual(ids);
  });

  test('decode after BOS gives each input back', () => {
    for (const { text, ids } of vectors) {
      expect(tokenizer.decode([tokenizer.bos, ...ids])).toBe(text);
    }
  });
});
