// Broken llama2.c tokenizer files are TOK401 errors naming the file and what is wrong,
// never a raw RangeError.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SmeltError } from '../../ir/diagnostics.js';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/llama2c.js';
import { modelPath } from '../models.js';

const dir = mkdtempSync(join(tmpdir(), 'smelt-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TOK512 = readFileSync(modelPath('stories260K/tok512.bin'));

/** Writes `bytes` to a scratch file and returns its path. */
function scratch(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function errorOf(path: string, vocabSize = 512): SmeltError {
  try {
    loadLlama2cTokenizer(path, vocabSize);
  } catch (err) {
    if (err instanceof SmeltError) return err;
    throw err;
  }
  throw new Error(`no error thrown for ${path}`);
}

describe('llama2.c tokenizer file errors', () => {
  test.each([0, 2, 10, 3000, TOK512.length - 1])('truncated to %i bytes is TOK401', (n) => {
    const path = scratch(`cut${n}.bin`, TOK512.subarray(0, n));
    const err = errorOf(path);
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain(path);
    expect(err.message).toContain('truncated');
  });

  test('a missing file is TOK401 with the OS reason', () => {
    const err = errorOf(join(dir, 'absent.bin'));
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('ENOENT');
  });

  test('a tokenizer for a larger vocabulary than the model is TOK401', () => {
    const err = errorOf(modelPath('llama2-tokenizer/tokenizer.bin'), 512);
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('larger vocabulary');
  });

  test('a piece length beyond max_token_length is TOK401 naming the token', () => {
    const bytes = Uint8Array.from(TOK512);
    new DataView(bytes.buffer).setInt32(4 + 4, 1000, true); // len of token 0
    const err = errorOf(scratch('len.bin', bytes));
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('token 0 of 512');
  });

  test('a byte token id that is not <0xXX> is TOK401', () => {
    // token 3 "<0x00>" (6 bytes) rewritten as the 6-byte piece "<0x0Z>"
    const bytes = Uint8Array.from(TOK512);
    const at = TOK512.indexOf('<0x00>');
    bytes[at + 4] = 'Z'.charCodeAt(0);
    const err = errorOf(scratch('bytes.bin', bytes));
    expect(err.code).toBe('TOK401');
    expect(err.message).toContain('token 3');
  });
});
