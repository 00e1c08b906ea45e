// Turns a stored tensor (f32, f16, bf16, q8_0, q4_0) into a fresh Float32Array.
//
// Block layouts and the decoders themselves live in `ir/quant.ts` (`STORED`, `decode`); every
// reader sizes tensors through `tensorByteLength`, so a reader, this file and the GGUF writer
// can never disagree about a size.
// Invariants: the result is always a new, 4-byte-aligned array the caller owns; the source
// may sit at any byte offset. Multi-byte values are little-endian on disk and are decoded
// either byte by byte or by copying into a typed array, which assumes a little-endian host
// (x64 and arm64, every target smelt runs on).
// A tensor whose recorded size or range disagrees with its shape is WEIGHT302, never a
// RangeError; quantized tensors need rows that are a whole number of 32-element blocks.
import { SmeltError } from '../../../ir/diagnostics.js';
import type { StoredInfo } from '../../../ir/quant.js';
import { STORED, bf16ToF32, decode, f16ToF32 } from '../../../ir/quant.js';
import type { FileDType, TensorEntry, WeightFile } from './types.js';

/** How each dtype packs elements: `elements` per block stored in `bytes` bytes. */
export const BLOCKS: Record<FileDType, StoredInfo> = STORED;
export { bf16ToF32, f16ToF32 };

/** Elements in a tensor of `shape` (1 for a scalar []). May be unsafe for hostile shapes. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/**
 * Bytes a tensor of `dtype` and `shape` occupies. Throws WEIGHT302 when a dimension is not a
 * non-negative integer, a quantized row is not a whole number of blocks, or the size is not
 * a safe integer.
 */
export function tensorByteLength(
  path: string,
  name: string,
  dtype: FileDType,
  shape: readonly number[],
): number {
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} has shape [${shape.join(', ')}], expected non-negative integers`,
    );
  }
  const block = BLOCKS[dtype];
  const row = shape.length === 0 ? 1 : shape[shape.length - 1]!;
  if (row % block.elements !== 0) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} (${dtype}) has rows of ${row} elements, ` +
        `expected a multiple of the ${block.elements}-element block`,
    );
  }
  const bytes = (elementCount(shape) / block.elements) * block.bytes;
  if (!Number.isSafeInteger(bytes)) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: tensor ${name} has shape [${shape.join(', ')}], too large to address`,
    );
  }
  return bytes;
}

/** Decodes `entry` of `file` into a new Float32Array of product(shape) elements. */
export function tensorToF32(file: WeightFile, entry: TensorEntry): Float32Array {
  return decode(entry.dtype, checkedBytes(file, entry), elementCount(entry.shape));
}

/** The tensor's bytes, after checking that its recorded size matches its shape and file. */
export function checkedBytes(file: WeightFile, entry: TensorEntry): Uint8Array {
  const expected = tensorByteLength(file.path, entry.name, entry.dtype, entry.shape);
  if (entry.byteLength !== expected) {
    throw new SmeltError(
      'WEIGHT302',
      `${file.path}: tensor ${entry.name} (${entry.dtype}, shape [${entry.shape.join(', ')}]) ` +
        `should take ${expected} bytes but takes ${entry.byteLength}`,
    );
  }
  const end = entry.offset + entry.byteLength;
  if (!(Number.isSafeInteger(entry.offset) && entry.offset >= 0 && end <= file.bytes.length)) {
    throw new SmeltError(
      'WEIGHT302',
      `${file.path}: tensor ${entry.name} needs ${entry.byteLength} bytes at offset ` +
        `${entry.offset} but file ends at ${file.bytes.length}`,
    );
  }
  return file.bytes.subarray(entry.offset, end);
}
