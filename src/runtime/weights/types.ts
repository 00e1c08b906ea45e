// What every weight-file reader produces: named tensors located in one byte buffer.
//
// Shapes are outer → inner (row-major), the way the spec writes them: a [vocab_size, dim]
// embedding is vocab_size rows of dim floats. GGUF stores ne[0] (the contiguous length)
// first; its reader reverses the dims so that every format agrees on this convention.

import type { StoredDType } from '../../../ir/quant.js';
import type { GgufType } from './gguf-types.js';

/** Element encodings found in weight files. Quantized ones are GGUF block formats. */
export type FileDType = StoredDType;

export type MetaValue = string | number | bigint | boolean | MetaValue[];

export interface TensorEntry {
  name: string;
  dtype: FileDType;
  shape: number[]; // outer → inner
  offset: number; // byte offset of the first element in WeightFile.bytes
  byteLength: number;
}

export interface WeightFile {
  path: string;
  format: 'gguf' | 'safetensors' | 'llama2c';
  /** Format metadata: GGUF key/values, safetensors __metadata__, llama2.c header fields. */
  metadata: Map<string, MetaValue>;
  tensors: Map<string, TensorEntry>;
  bytes: Uint8Array;
  /** GGUF only: the stored value type of every metadata key, so a writer can copy keys. */
  ggufTypes?: Map<string, GgufType>;
}
