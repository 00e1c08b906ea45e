// The text a perplexity run scores: read as UTF-8 and tokenized as one document (BOS, then
// the whole text, as `smelt run` encodes a prompt). A file that cannot be read or is not
// UTF-8 is EVAL801; text that gives fewer than two tokens (nothing to predict) is EVAL802.

import { readFileSync } from 'node:fs';
import { SmeltError } from '../../../ir/diagnostics.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { REASONS } from '../weights/open.js';

export function readText(path: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const { code, message } = e as NodeJS.ErrnoException;
    const reason = (code && REASONS[code]) ?? message;
    throw new SmeltError('EVAL801', `${path}: cannot read: ${reason}${code ? ` (${code})` : ''}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SmeltError('EVAL801', `${path}: not UTF-8 text`);
  }
}

/** The token ids of `text` (BOS first); EVAL802 when there is no token to predict. */
export function textTokens(text: string, tokenizer: Tokenizer, path: string): Int32Array {
  const tokens = Int32Array.from(tokenizer.encode(text));
  if (tokens.length < 2) {
    throw new SmeltError('EVAL802', `${path} is empty: perplexity needs at least one token of ` +
      'text after BOS');
  }
  return tokens;
}
