// The vocabulary embedded in stories260K-f32.gguf must tokenize exactly like tok512.bin,
// and GGUF metadata that is not a SentencePiece vocabulary must be a coded TOK40x error.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { SmeltError } from '../../ir/diagnostics.js';
import { tokenizerFromGguf } from '../../src/runtime/tokenizer/gguf.js';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/llama2c.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { modelPath, readGolden } from '../models.js';

const GGUF = modelPath('stories260K/stories260K-f32.gguf');
const metadata: Map<string, unknown> = readGguf(GGUF, readFileSync(GGUF)).metadata;

interface EncodeCase {
  text: string;
  tokens: number[];
  decoded: string;
}

describe('stories260K-f32.gguf vocabulary', () => {
  const gguf = tokenizerFromGguf(metadata, GGUF);
  const bin = loadLlama2cTokenizer(modelPath('stories260K/tok512.bin'), 512);
  const cases = readGolden<{ cases: EncodeCase[] }>('tok512_encode_runc.json').cases;

  test('has tok512.bin special ids and size', () => {
    expect([gguf.vocabSize, gguf.bos, gguf.eos]).toEqual([512, 1, 2]);
  });

  test.each(cases)('encode($text) equals the run.c golden', ({ text, tokens }) => {
    expect(gguf.encode(text)).toEqual(tokens);
    expect(gguf.encode(text, { bos: false })).toEqual(bin.encode(text, { bos: false }));
  });

  test.each(cases)('decode($text) equals the run.c golden', ({ tokens, decoded }) => {
    expect(gguf.decode(tokens)).toBe(decoded);
  });

  test('decodes every non-special piece to the same bytes as tok512.bin', () => {
    for (let id = 3; id < 512; id++) {
      for (const prev of [bin.bos, 100]) {
        expect(gguf.decodePiece(prev, id)).toEqual(bin.decodePiece(prev, id));
      }
    }
  });
});

describe('GGUF metadata errors', () => {
  const withKey = (key: string, value: unknown): Map<string, unknown> =>
    new Map([...metadata, [key, value]]);
  const errorOf = (meta: Map<string, unknown>): SmeltError => {
    try {
      tokenizerFromGguf(meta, 'model.gguf');
    } catch (err) {
      if (err instanceof SmeltError) return err;
      throw err;
    }
    throw new Error('no error thrown');
  };

  test('a non-llama tokenizer model is TOK401 naming the model and the file', () => {
    const err = errorOf(withKey('tokenizer.ggml.model', 'gpt2'));
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('"gpt2"');
    expect(err.message).toContain('model.gguf');
  });

  test('no tokenizer at all is TOK402', () => {
    const meta = new Map(metadata);
    meta.delete('tokenizer.ggml.model');
    expect(errorOf(meta).code).toBe('TOK402');
  });

  test('missing scores is TOK401 naming the key', () => {
    const meta = new Map(metadata);
    meta.delete('tokenizer.ggml.scores');
    const err = errorOf(meta);
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('tokenizer.ggml.scores');
  });

  test('a BOS id outside the vocabulary is TOK401', () => {
    const err = errorOf(withKey('tokenizer.ggml.bos_token_id', 4294967295));
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('bos token id 4294967295');
  });
});
