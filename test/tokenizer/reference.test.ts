// The library-built encoder against a direct port of run.c encode() on generated text, so a
// change in Tokenizers.js's BPE (tie-breaking, fallback) shows up even where the fixed
// vectors do not reach. Also pins decodePiece's quirks and the encoder's speed.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { loadLlama2cTokenizer, readLlama2cVocab } from '../../src/runtime/tokenizer/llama2c.js';
import type { Vocab } from '../../src/runtime/tokenizer/sentencepiece.js';
import { modelPath } from '../models.js';

/** run.c encode() without BOS, written straight from its loop: O(n²), for tests only. */
function runcEncode(vocab: Vocab, ids: Map<string, number>, text: string): number[] {
  if (text === '') return [];
  const tokens: number[] = [];
  for (const ch of ' ' + text) {
    const id = ids.get(ch);
    if (id !== undefined) tokens.push(id);
    else for (const byte of new TextEncoder().encode(ch)) tokens.push(byte + 3);
  }
  for (;;) {
    let best = -1e10;
    let at = -1;
    let merged = -1;
    for (let i = 0; i + 1 < tokens.length; i++) {
      const id = ids.get(vocab.pieces[tokens[i]!]! + vocab.pieces[tokens[i + 1]!]!);
      if (id !== undefined && vocab.scores[id]! > best) {
        [best, at, merged] = [vocab.scores[id]!, i, id];
      }
    }
    if (at < 0) return tokens;
    tokens.splice(at, 2, merged);
  }
}

/** Deterministic texts: random pieces of the vocabulary, whole or clipped, and whitespace. */
function* texts(vocab: Vocab, count: number): Generator<string> {
  let seed = 12345;
  const next = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return Math.floor((seed / 2147483648) * n);
  };
  const extras = [' ', '  ', '\t', '\n', 'é', '日本', '🦙', '▁', '<0x41>', '1234'];
  for (let k = 0; k < count; k++) {
    let text = '';
    for (let j = 0, n = 1 + next(6); j < n; j++) {
      const piece = next(4) === 0
        ? extras[next(extras.length)]!
        : vocab.pieces[259 + next(vocab.pieces.length - 259)]!;
      text += next(2) === 0 ? piece : piece.slice(0, Math.max(1, piece.length - 1));
    }
    yield text;
  }
  // runs of whitespace: the 32000 vocabulary's whitespace pieces all score -1e9 (a tie)
  for (let n = 1; n <= 64; n++) {
    yield ' '.repeat(n);
    yield `a${' '.repeat(n)}\n${' '.repeat(n % 7)}b`;
  }
}

const FILES = [
  { file: 'stories260K/tok512.bin', vocabSize: 512 },
  { file: 'llama2-tokenizer/tokenizer.bin', vocabSize: 32000 },
];

describe.each(FILES)('$file against a direct run.c port', ({ file, vocabSize }) => {
  const path = modelPath(file);
  const tokenizer = loadLlama2cTokenizer(path, vocabSize);
  const vocab = readLlama2cVocab(path, readFileSync(path), vocabSize);
  const ids = new Map(vocab.pieces.map((piece, id) => [piece, id]));

  test('agrees on 3000 generated texts', () => {
    const mismatches: string[] = [];
    for (const text of texts(vocab, 3000)) {
      const want = runcEncode(vocab, ids, text);
      if (tokenizer.encode(text, { bos: false }).join() !== want.join()) mismatches.push(text);
    }
    expect(mismatches).toEqual([]);
  });
});

describe('decodePiece', () => {
  const tokenizer = loadLlama2cTokenizer(modelPath('llama2-tokenizer/tokenizer.bin'), 32000);
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

  test('drops the leading space only after BOS', () => {
    expect(tokenizer.decodePiece(1, 9038)).toEqual(bytes('Once'));
    expect(tokenizer.decodePiece(9038, 2501)).toEqual(bytes(' upon'));
  });

  test('turns <0xXX> into the raw byte, keeping <0x20> after BOS', () => {
    expect(tokenizer.decodePiece(1, 0x20 + 3)).toEqual(Uint8Array.of(0x20));
    expect(tokenizer.decodePiece(5, 0xe6 + 3)).toEqual(Uint8Array.of(0xe6));
  });

  test('decode joins byte tokens before UTF-8 decoding', () => {
    expect(tokenizer.decode([1, 29871, 243, 162, 169, 156])).toBe('🦙');
  });
});

test('the 32000 vocabulary encodes 8 KB of text well under a second', () => {
  const tokenizer = loadLlama2cTokenizer(modelPath('llama2-tokenizer/tokenizer.bin'), 32000);
  const text = readFileSync(modelPath('PROVENANCE.md'), 'utf8').slice(0, 8192);
  const start = performance.now();
  const tokens = tokenizer.encode(text);
  const ms = performance.now() - start;
  expect(tokenizer.decode(tokens)).toBe(text);
  expect(ms).toBeLessThan(500);
});
