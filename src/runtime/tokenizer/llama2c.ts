// Reads a llama2.c tokenizer .bin (tok512.bin, tokenizer.bin) into a run.c-exact tokenizer.
//
// Layout, little-endian: int32 max_token_length, then vocab_size records of
// { float32 score, int32 len, len bytes of UTF-8, no NUL }. The file does not store
// vocab_size; the model does, so the caller passes it.
// Ids 0 = <unk>, 1 = BOS ("\n<s>\n"), 2 = EOS ("\n</s>\n"), 3..258 = `<0xXX>`; spaces are ' '.
//
// Every way the file can be wrong is a TOK401 naming the file and the offset: unreadable,
// truncated, a negative or over-long piece length, invalid UTF-8, or bytes left over after
// vocab_size records (a tokenizer for a bigger vocabulary than the model's).
import { readFileSync } from 'node:fs';
import { SmeltError } from '../../../ir/diagnostics.js';
import { SentencePieceTokenizer, checkVocab, type Vocab } from './sentencepiece.js';
import type { Tokenizer } from './types.js';

/** llama2.c's fixed special ids. */
const UNK = 0;
const BOS = 1;
const EOS = 2;

export function loadLlama2cTokenizer(path: string, vocabSize: number): Tokenizer {
  return new SentencePieceTokenizer(loadLlama2cVocab(path, vocabSize));
}

/** The vocabulary of a llama2.c tokenizer file, checked as the tokenizer would check it. */
export function loadLlama2cVocab(path: string, vocabSize: number): Vocab {
  const vocab = readLlama2cVocab(path, readBytes(path), vocabSize);
  checkVocab(vocab);
  return vocab;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new SmeltError('TOK401', `cannot read tokenizer file ${path}: ${(err as Error).message}`);
  }
}

/** Parses the records of a llama2.c tokenizer file; `path` is for messages only. */
export function readLlama2cVocab(path: string, bytes: Uint8Array, vocabSize: number): Vocab {
  const fail = (what: string): never => {
    throw new SmeltError('TOK401', `${path}: ${what}`);
  };
  if (!Number.isInteger(vocabSize) || vocabSize <= 0) fail(`bad vocab_size ${vocabSize}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  if (bytes.length < 4) fail(`truncated: ${bytes.length} bytes, no max_token_length header`);
  const maxTokenLength = view.getInt32(0, true);
  const pieces: string[] = [];
  const scores: number[] = [];
  let offset = 4;
  for (let id = 0; id < vocabSize; id++) {
    const at = `token ${id} of ${vocabSize} at offset ${offset}`;

    // record header: f32 score, i32 len
    if (offset + 8 > bytes.length) fail(`truncated at ${at} (file is ${bytes.length} bytes)`);
    scores.push(view.getFloat32(offset, true));
    const len = view.getInt32(offset + 4, true);
    offset += 8;

    // piece bytes
    if (len < 0 || len > maxTokenLength) {
      fail(`${at} has length ${len}, outside 0..max_token_length ${maxTokenLength}`);
    }
    if (offset + len > bytes.length) fail(`truncated at ${at} (file is ${bytes.length} bytes)`);
    try {
      pieces.push(utf8.decode(bytes.subarray(offset, offset + len)));
    } catch {
      fail(`${at} is not valid UTF-8`);
    }
    offset += len;
  }
  if (offset !== bytes.length) {
    fail(`${bytes.length - offset} bytes left after ${vocabSize} tokens: ` +
      `the tokenizer is for a larger vocabulary than the model's vocab_size ${vocabSize}`);
  }
  return { pieces, scores, bos: BOS, eos: EOS, unk: UNK, source: path };
}
