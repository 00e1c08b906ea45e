// The SentencePiece-BPE tokenizer with byte fallback, as llama2.c run.c runs it.
//
// Both loaders (llama2.c .bin, GGUF metadata) reduce their file to one `Vocab` and hand it
// here; everything after that is shared, so the two sources cannot drift apart.
//
// Invariants of a `Vocab` (checked by `checkVocab`, a TOK401 otherwise):
//   - pieces spell spaces as ' ' (GGUF's "▁" is converted by its loader), one string per id;
//   - ids 3..258 are the byte tokens `<0x00>`..`<0xFF>`, so byte b falls back to id b + 3;
//   - bos, eos and unk are ids inside the vocabulary.
// Encoding (dummy prefix, codepoint lookup, byte fallback, score-ordered merging) is done by
// `hf-bpe.ts`; decoding follows run.c decode() here, because its quirks are run.c's own.
import { InternalError, SmeltError } from '../../../ir/diagnostics.js';
import type { Tokenizer } from './types.js';
import { buildHfEncoder } from './hf-bpe.js';

/** A vocabulary in run.c's terms: the piece and merge score of every id. */
export interface Vocab {
  pieces: string[]; // (vocab_size) piece text, ' ' for spaces
  scores: number[]; // (vocab_size) merge priority of the piece; higher merges first
  bos: number;
  eos: number;
  unk: number;
  /** The file the vocabulary came from, for error messages. */
  source: string;
}

/** Byte tokens start here: byte b is token b + BYTE_TOKEN_BASE (after unk, bos, eos). */
export const BYTE_TOKEN_BASE = 3;

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

export function bytePiece(byte: number): string {
  return `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
}

/** Throws TOK401 when `vocab` breaks an invariant the encoder relies on. */
export function checkVocab(vocab: Vocab): void {
  const { pieces, scores, source } = vocab;
  const fail = (what: string): never => {
    throw new SmeltError('TOK401', `${source}: ${what}`);
  };
  if (scores.length !== pieces.length) {
    fail(`${pieces.length} tokens but ${scores.length} scores`);
  }
  if (pieces.length < BYTE_TOKEN_BASE + 256) {
    fail(`vocabulary of ${pieces.length} tokens is too small to hold the 256 byte tokens`);
  }
  for (let byte = 0; byte < 256; byte++) {
    const id = BYTE_TOKEN_BASE + byte;
    if (pieces[id] !== bytePiece(byte)) {
      fail(`token ${id} is ${JSON.stringify(pieces[id])}, expected ${bytePiece(byte)} ` +
        `(byte tokens must sit at ids 3..258; older llama2.c exports stored raw bytes)`);
    }
  }
  for (const [name, id] of [['bos', vocab.bos], ['eos', vocab.eos], ['unk', vocab.unk]] as const) {
    if (!Number.isInteger(id) || id < 0 || id >= pieces.length) {
      fail(`${name} token id ${id} is outside the vocabulary of ${pieces.length}`);
    }
  }
}

/** The bytes run.c prints for each piece: `<0xXX>` becomes that byte, others their UTF-8. */
function pieceBytes(pieces: string[]): Uint8Array[] {
  const utf8 = new TextEncoder();
  return pieces.map((piece) => {
    const byte = BYTE_PIECE.exec(piece);
    return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : utf8.encode(piece);
  });
}

export class SentencePieceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  private readonly pieces: string[]; // (vocab_size) piece text, ' ' for spaces
  private readonly bytes: Uint8Array[]; // (vocab_size) what decodePiece prints per id
  private readonly encodeText: (text: string) => number[];

  constructor(vocab: Vocab) {
    checkVocab(vocab);
    this.vocabSize = vocab.pieces.length;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.pieces = vocab.pieces;
    this.bytes = pieceBytes(vocab.pieces);
    this.encodeText = buildHfEncoder(vocab);
  }

  encode(text: string, options: { bos?: boolean } = {}): number[] {
    const head = (options.bos ?? true) ? [this.bos] : [];
    // run.c adds the dummy-prefix space only when the text is non-empty
    if (text === '') return head;
    return head.concat(this.encodeText(text));
  }

  decodePiece(prev: number, token: number): Uint8Array {
    const bytes = this.bytes[token];
    if (bytes === undefined) {
      const detail = `token id ${token} is outside the vocabulary of ${this.vocabSize}`;
      throw new InternalError('tokenizer', detail);
    }
    // the first piece after BOS loses its leading space (the dummy prefix); `<0x20>` keeps it;
    // a copy, so that callers cannot write into the table
    return prev === this.bos && this.pieces[token]![0] === ' ' ? bytes.slice(1) : bytes.slice();
  }

  decode(tokens: number[]): string {
    const parts: Uint8Array[] = [];
    for (let i = 1; i < tokens.length; i++) {
      parts.push(this.decodePiece(tokens[i - 1]!, tokens[i]!));
    }
    // join the bytes first: a multi-byte character may span several byte tokens
    const joined = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      joined.set(part, offset);
      offset += part.length;
    }
    return new TextDecoder().decode(joined);
  }
}
