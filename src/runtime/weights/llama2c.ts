// Reads llama2.c checkpoints: the header, then f32 tensors sliced in a caller-given order.
//
// Legacy: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then
//   the weights; a negative vocab_size means the classifier is stored separately at the end.
// v1: a 256-byte header: u32 magic 0x616b3432 ("24ka" on disk), int32 version 1, the same
//   7 int32, u8 shared_classifier, zero padding; then the weights.
// The tensors are unnamed and their order depends on the model, so `layoutLlama2c` takes the
// list of names and shapes from the caller (entries named `skip:...` are stepped over).
//
// Invariants: the header is checked to describe a plausible transformer (positive sizes,
// dim divisible by n_heads, n_heads divisible by n_kv_heads); every tensor lies inside the
// file, or the layout fails with WEIGHT302 naming it. Nothing is allocated from file sizes.
import { InternalError, SmeltError } from '../../../ir/diagnostics.js';
import { elementCount } from './dequant.js';
import type { MetaValue, TensorEntry, WeightFile } from './types.js';

export const LLAMA2C_MAGIC = 0x616b3432;
const LEGACY_HEADER_BYTES = 7 * 4;
const V1_HEADER_BYTES = 256;
const SKIP_PREFIX = 'skip:';

export interface Llama2cHeader {
  version: 0 | 1; // 0 = legacy
  dataOffset: number; // byte offset of the first tensor
  dim: number; // transformer width
  hidden_dim: number; // FFN width
  n_layers: number;
  n_heads: number; // query heads
  n_kv_heads: number; // key/value heads (GQA when < n_heads)
  vocab_size: number; // absolute value of the stored field
  seq_len: number; // trained context length
  shared_classifier: boolean; // classifier = token embedding
}

/** The seven int32 config fields, in file order. */
const CONFIG_FIELDS = [
  'dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len',
] as const;

type Config = Record<(typeof CONFIG_FIELDS)[number], number>;

/** Why seven int32 do not describe a llama2.c model, or undefined when they do. */
export function implausibleConfig(c: Config): string | undefined {
  for (const field of CONFIG_FIELDS) {
    const v = field === 'vocab_size' ? Math.abs(c[field]) : c[field];
    if (!(v > 0)) return `${field} is ${c[field]}, expected a positive number`;
  }
  if (c.dim % c.n_heads !== 0) return `dim ${c.dim} is not divisible by n_heads ${c.n_heads}`;
  if (c.n_heads % c.n_kv_heads !== 0) {
    return `n_heads ${c.n_heads} is not divisible by n_kv_heads ${c.n_kv_heads}`;
  }
  return undefined;
}

/** The seven config int32 starting at byte `at` (the caller checked the length). */
export function configAt(bytes: Uint8Array, at: number): Config {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const c = {} as Config;
  CONFIG_FIELDS.forEach((field, i) => (c[field] = view.getInt32(at + 4 * i, true)));
  return c;
}

export function readLlama2cHeader(path: string, bytes: Uint8Array): Llama2cHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v1 = bytes.length >= 4 && view.getUint32(0, true) === LLAMA2C_MAGIC;
  const headerBytes = v1 ? V1_HEADER_BYTES : LEGACY_HEADER_BYTES;
  if (bytes.length < headerBytes) {
    throw new SmeltError(
      'WEIGHT302',
      `${path}: llama2.c ${v1 ? 'v1' : 'legacy'} header needs ${headerBytes} bytes ` +
        `but file ends at ${bytes.length}`,
    );
  }
  if (v1 && view.getInt32(4, true) !== 1) {
    throw new SmeltError(
      'WEIGHT303',
      `${path}: llama2.c checkpoint version ${view.getInt32(4, true)} is not supported; ` +
        'expected version 1 (fp32) or a legacy header',
    );
  }
  const config = configAt(bytes, v1 ? 8 : 0);
  const reason = implausibleConfig(config);
  if (reason) throw new SmeltError('WEIGHT302', `${path}: llama2.c header: ${reason}`);
  return {
    version: v1 ? 1 : 0,
    dataOffset: headerBytes,
    ...config,
    vocab_size: Math.abs(config.vocab_size),
    shared_classifier: v1 ? view.getUint8(36) !== 0 : config.vocab_size > 0,
  };
}

/**
 * Slices consecutive f32 tensors from `header.dataOffset` in the order of `entries`. An
 * entry named `skip:...` takes its bytes but is not listed. Bytes after the last entry are
 * allowed; a file too short for an entry is WEIGHT302.
 */
export function layoutLlama2c(
  path: string,
  bytes: Uint8Array,
  header: Llama2cHeader,
  entries: readonly { name: string; shape: number[] }[],
): WeightFile {
  const tensors = new Map<string, TensorEntry>();
  let offset = header.dataOffset;
  for (const { name, shape } of entries) {
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InternalError('layoutLlama2c', `tensor ${name} has shape [${shape.join(', ')}]`);
    }
    const byteLength = elementCount(shape) * 4;
    if (offset + byteLength > bytes.length) {
      throw new SmeltError(
        'WEIGHT302',
        `${path}: tensor ${name} [${shape.join(', ')}] needs ${byteLength} bytes at offset ` +
          `${offset} (up to ${offset + byteLength}) but file ends at ${bytes.length}`,
      );
    }
    if (!name.startsWith(SKIP_PREFIX)) {
      if (tensors.has(name)) {
        throw new InternalError('layoutLlama2c', `tensor ${name} is listed twice`);
      }
      tensors.set(name, { name, dtype: 'f32', shape: [...shape], offset, byteLength });
    }
    offset += byteLength;
  }
  return { path, format: 'llama2c', metadata: headerMetadata(header), tensors, bytes };
}

/** The header fields as `llama2c.<field>` metadata. */
function headerMetadata(header: Llama2cHeader): Map<string, MetaValue> {
  const metadata = new Map<string, MetaValue>();
  for (const [key, value] of Object.entries(header)) metadata.set(`llama2c.${key}`, value);
  return metadata;
}
