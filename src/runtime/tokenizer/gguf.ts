// Builds the run.c-exact tokenizer from the vocabulary embedded in GGUF metadata.
//
// Keys read: tokenizer.ggml.model (must be "llama": SentencePiece BPE with byte fallback),
// tokenizer.ggml.tokens (string[]), tokenizer.ggml.scores (number[]) and the optional
// bos_token_id / eos_token_id / unknown_token_id (llama.cpp's SPM defaults 1 / 2 / 0).
// tokenizer.ggml.token_type is not needed: run.c's semantics ignore token types, and the
// byte tokens are found by their `<0xXX>` text, which `checkVocab` pins to ids 3..258.
//
// GGUF spells spaces "▁" (U+2581); they become ' ' here, as llama2.c's exporter writes them,
// so a GGUF vocabulary and its llama2.c export encode every text identically.
// A missing tokenizer is TOK402; any other model type or malformed key is TOK401.
import { SmeltError } from '../../../ir/diagnostics.js';
import { SentencePieceTokenizer, type Vocab } from './sentencepiece.js';
import type { Tokenizer } from './types.js';

const KEY = 'tokenizer.ggml.';

/** SentencePiece's visible space. */
const META_SPACE = /\u2581/g;

export function tokenizerFromGguf(metadata: Map<string, unknown>, source: string): Tokenizer {
  return new SentencePieceTokenizer(ggufVocab(metadata, source));
}

export function ggufVocab(metadata: Map<string, unknown>, source: string): Vocab {
  const fail = (what: string): never => {
    throw new SmeltError('TOK401', `${source}: ${what}`);
  };

  // only SentencePiece-style vocabularies follow run.c's algorithm
  const model = metadata.get(`${KEY}model`);
  if (model === undefined) {
    throw new SmeltError('TOK402', `${source} has no tokenizer (no ${KEY}model metadata)`);
  }
  if (model !== 'llama') {
    fail(`${KEY}model is ${JSON.stringify(model)}; only "llama" (SentencePiece BPE with ` +
      `byte fallback) is supported`);
  }

  // pieces and scores, one per id
  const tokens = metadata.get(`${KEY}tokens`);
  if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === 'string')) {
    return fail(`${KEY}tokens is missing or not an array of strings`);
  }
  const scores = metadata.get(`${KEY}scores`);
  if (!Array.isArray(scores) || !scores.every((s): s is number => typeof s === 'number')) {
    return fail(`${KEY}scores is missing or not an array of numbers`);
  }

  return {
    pieces: tokens.map((t) => t.replace(META_SPACE, ' ')),
    scores,
    bos: tokenId(metadata, 'bos_token_id', 1, fail),
    eos: tokenId(metadata, 'eos_token_id', 2, fail),
    unk: tokenId(metadata, 'unknown_token_id', 0, fail),
    source,
  };
}

/** An optional id key, as a number; GGUF readers may hand u32/u64 values as bigint. */
function tokenId(
  metadata: Map<string, unknown>,
  name: string,
  fallback: number,
  fail: (what: string) => never,
): number {
  const value = metadata.get(KEY + name);
  if (value === undefined) return fallback;
  if (typeof value === 'bigint' || typeof value === 'number') return Number(value);
  return fail(`${KEY}${name} is ${JSON.stringify(value)}, not a number`);
}
