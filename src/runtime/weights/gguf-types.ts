// What the GGUF reader and writer share: the magic, the default alignment, the metadata
// value types with their on-disk numbers, and the ggml tensor type numbers of the stored
// dtypes smelt knows (from `ir/quant.ts`, where each format is declared once).
//
// A metadata value's type is a `GgufType`: a scalar name, or `{ array: T }` for an array of
// T (arrays may nest). The reader records it for every key, so a copied key keeps its type.
import type { StoredDType } from '../../../ir/quant.js';
import { STORED, STORED_DTYPES } from '../../../ir/quant.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_MAX_DIMS = 4; // GGML_MAX_DIMS

/** Metadata value types, by their number on disk. */
export const GGUF_VALUE_TYPES = {
  u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7,
  string: 8, array: 9, u64: 10, i64: 11, f64: 12,
} as const;

export type GgufScalar = Exclude<keyof typeof GGUF_VALUE_TYPES, 'array'>;
export type GgufType = GgufScalar | { array: GgufType };

/** Type names by on-disk number (undefined past 12). */
export const GGUF_TYPE_NAMES = Object.keys(GGUF_VALUE_TYPES) as (keyof typeof GGUF_VALUE_TYPES)[];

/** ggml type number → stored dtype, for the types smelt reads and writes. */
export const GGML_DTYPES: Record<number, StoredDType> = Object.fromEntries(
  STORED_DTYPES.map((d) => [STORED[d].ggmlType, d]),
);

/** `general.file_type` (enum llama_ftype) of a file whose weights are mostly `dtype`. */
export const GGUF_FILE_TYPES: Record<StoredDType, number> = {
  f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32,
};

/** `T` as written in messages: `u32`, `array of string`. */
export function formatGgufType(t: GgufType): string {
  return typeof t === 'string' ? t : `array of ${formatGgufType(t.array)}`;
}
