// Loads a weight file from disk and recognises its format by its first bytes.
//
// Recognised, in this order:
//   gguf         the bytes "GGUF"
//   llama2c v1   u32 magic 0x616b3432 ("24ka" on disk)
//   safetensors  a u64 header length that fits in the file, followed by '{'
//   llama2c      legacy: 7 int32 describing a plausible model (positive sizes, dim divisible
//                by n_heads, n_heads by n_kv_heads); random bytes essentially never pass
// Anything else is WEIGHT303 listing these formats; an empty file is WEIGHT302; a file that
// cannot be read is WEIGHT301 with the OS reason. The whole file is read into memory.
import { readFileSync } from 'node:fs';
import { SmeltError, assertNever } from '../../../ir/diagnostics.js';
import { readGguf } from './gguf.js';
import {
  LLAMA2C_MAGIC,
  type Llama2cHeader,
  configAt,
  implausibleConfig,
  readLlama2cHeader,
} from './llama2c.js';
import { readSafetensors } from './safetensors.js';
import type { WeightFile } from './types.js';

export type WeightFormat = WeightFile['format'];

export interface OpenedWeights {
  path: string;
  kind: WeightFormat;
  bytes: Uint8Array;
}

/**
 * A parsed weight file. llama2.c tensors are unnamed, so for that format only the header is
 * read; the caller lays the tensors out with `layoutLlama2c(path, bytes, header, entries)`.
 */
export type ReadWeights =
  | { kind: 'gguf' | 'safetensors'; file: WeightFile }
  | { kind: 'llama2c'; path: string; bytes: Uint8Array; header: Llama2cHeader };

/** Reads `path` and tells its format. */
export function openWeights(path: string): OpenedWeights {
  const bytes = readBytes(path);
  return { path, kind: sniffFormat(path, bytes), bytes };
}

/** Reads and parses `path`: a whole WeightFile, or a llama2.c header (see ReadWeights). */
export function readWeightFile(path: string): ReadWeights {
  const { kind, bytes } = openWeights(path);
  switch (kind) {
    case 'gguf':
      return { kind, file: readGguf(path, bytes) };
    case 'safetensors':
      return { kind, file: readSafetensors(path, bytes) };
    case 'llama2c':
      return { kind, path, bytes, header: readLlama2cHeader(path, bytes) };
    default:
      return assertNever(kind, 'weight format');
  }
}

/** The format of `bytes`, from their first bytes alone. */
export function sniffFormat(path: string, bytes: Uint8Array): WeightFormat {
  if (bytes.length === 0) throw new SmeltError('WEIGHT302', `${path}: file is empty (0 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = bytes.length >= 4 ? view.getUint32(0, true) : -1;
  if (u32 === 0x46554747) return 'gguf'; // "GGUF"
  if (u32 === LLAMA2C_MAGIC) return 'llama2c';
  if (looksLikeSafetensors(view)) return 'safetensors';
  if (looksLikeLegacyLlama2c(bytes)) return 'llama2c';
  throw new SmeltError(
    'WEIGHT303',
    `${path}: not a recognised weight file (${bytes.length} bytes, starting ${hex(bytes)}); ` +
      'understood: GGUF v2/v3, safetensors, llama2.c legacy and v1 checkpoints',
  );
}

function looksLikeSafetensors(view: DataView): boolean {
  if (view.byteLength < 9) return false;
  const n = view.getBigUint64(0, true);
  return n > 0n && n <= BigInt(view.byteLength - 8) && view.getUint8(8) === 0x7b; // '{'
}

/** The file size is not checked, so a truncated checkpoint gets the layout's WEIGHT302. */
function looksLikeLegacyLlama2c(bytes: Uint8Array): boolean {
  return bytes.length >= 28 && implausibleConfig(configAt(bytes, 0)) === undefined;
}

/** OS error codes in words. */
export const REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a parent is not a directory',
  ERR_FS_FILE_TOO_LARGE: 'file is larger than 2 GiB, the most this reader loads',
};

function readBytes(path: string): Uint8Array {
  try {
    const buf = readFileSync(path);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  } catch (e) {
    const { code, message } = e as NodeJS.ErrnoException;
    const reason = (code && REASONS[code]) ?? message;
    throw new SmeltError('WEIGHT301', `${path}: cannot read: ${reason}${code ? ` (${code})` : ''}`);
  }
}

/** The first bytes as hex, for messages. */
function hex(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
}
