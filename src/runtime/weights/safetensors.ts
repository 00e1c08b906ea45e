// Reads and writes safetensors files (Hugging Face's format).
//
// Layout: u64 little-endian N, then N bytes of UTF-8 JSON, then the data region. The JSON
// maps each tensor name to { dtype, shape, data_offsets: [begin, end] }, offsets relative to
// the data region; the optional "__metadata__" entry maps strings to strings. The header may
// be padded with trailing spaces.
//
// Invariants (reader): N fits in the file, the JSON is an object, every tensor has a known
// dtype (F32, F16, BF16; others are WEIGHT305), a shape of non-negative integers, and
// begin ≤ end inside the data region with end − begin = product(shape) × element size.
// Tensors are listed in data order. Invariants (writer): F32 only, tensors stored back to
// back with no holes, and the header padded with spaces so the data starts 8-byte aligned.
import { InternalError, SmeltError } from '../../../ir/diagnostics.js';
import { BLOCKS, elementCount, tensorByteLength } from './dequant.js';
import type { FileDType, MetaValue, TensorEntry, WeightFile } from './types.js';

const METADATA_KEY = '__metadata__';
const DTYPES: Record<string, FileDType> = { F32: 'f32', F16: 'f16', BF16: 'bf16' };

export function readSafetensors(path: string, bytes: Uint8Array): WeightFile {
  // header length, then the JSON header
  const headerLength = readHeaderLength(path, bytes);
  const header = parseHeader(path, bytes.subarray(8, 8 + headerLength));
  const dataStart = 8 + headerLength;

  // metadata strings, then tensors sorted by where their data starts
  const metadata = new Map<string, MetaValue>();
  const tensors: TensorEntry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) readMetadata(path, value, metadata);
    else tensors.push(readEntry(path, name, value, dataStart, bytes.length));
  }
  tensors.sort((a, b) => a.offset - b.offset);
  return {
    path,
    format: 'safetensors',
    metadata,
    tensors: new Map(tensors.map((t) => [t.name, t])),
    bytes,
  };
}

function readHeaderLength(path: string, bytes: Uint8Array): number {
  if (bytes.length < 8) {
    throw corrupt(path, `header length needs 8 bytes at offset 0 but file ends at ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) {
    const end = bytes.length;
    throw corrupt(path, `JSON header needs ${n} bytes at offset 8 but file ends at ${end}`);
  }
  return Number(n);
}

function parseHeader(path: string, json: Uint8Array): Record<string, unknown> {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw corrupt(path, `JSON header is not valid: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw corrupt(path, `JSON header is ${describe(header)}, expected an object`);
  }
  return header as Record<string, unknown>;
}

function readMetadata(path: string, value: unknown, into: Map<string, MetaValue>): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw corrupt(path, `${METADATA_KEY} is ${describe(value)}, expected an object`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw corrupt(path, `${METADATA_KEY}.${key} is ${describe(v)}, expected a string`);
    }
    into.set(key, v);
  }
}

/** One tensor's header entry, checked against the data region [dataStart, fileLength). */
function readEntry(
  path: string,
  name: string,
  value: unknown,
  dataStart: number,
  fileLength: number,
): TensorEntry {
  const { dtype: tag, shape, data_offsets: offsets } = (value ?? {}) as Record<string, unknown>;
  if (typeof tag !== 'string') {
    throw corrupt(path, `tensor ${name} has dtype ${describe(tag)}, expected a string`);
  }
  const dtype = DTYPES[tag];
  if (!dtype) {
    throw new SmeltError(
      'WEIGHT305',
      `${path}: tensor ${name} has dtype ${tag}; supported: ${Object.keys(DTYPES).join(', ')}`,
    );
  }
  if (!Array.isArray(shape)) {
    throw corrupt(path, `tensor ${name} has shape ${describe(shape)}, expected an array`);
  }
  const [begin, end] = checkOffsets(path, name, offsets, dataStart, fileLength);
  const byteLength = tensorByteLength(path, name, dtype, shape as number[]);
  if (end - begin !== byteLength) {
    throw corrupt(
      path,
      `tensor ${name} (${tag} [${shape.join(', ')}]) needs ${byteLength} bytes ` +
        `but data_offsets [${begin}, ${end}] hold ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength };
}

function checkOffsets(
  path: string,
  name: string,
  offsets: unknown,
  dataStart: number,
  fileLength: number,
): readonly [number, number] {
  const ok =
    Array.isArray(offsets) &&
    offsets.length === 2 &&
    offsets.every((o) => Number.isSafeInteger(o) && o >= 0) &&
    offsets[0] <= offsets[1];
  if (!ok) {
    throw corrupt(
      path,
      `tensor ${name} has data_offsets ${describe(offsets)}, ` +
        'expected [begin, end] with 0 ≤ begin ≤ end',
    );
  }
  const [begin, end] = offsets as [number, number];
  if (dataStart + end > fileLength) {
    throw corrupt(
      path,
      `tensor ${name} needs ${end - begin} bytes at offset ${dataStart + begin} ` +
        `(data_offsets [${begin}, ${end}]) but file ends at ${fileLength}`,
    );
  }
  return [begin, end];
}

/**
 * A safetensors file holding `tensors` as F32, in the given order, with optional string
 * metadata. Throws InternalError when a tensor's data does not match its shape.
 */
export function writeSafetensors(
  tensors: readonly { name: string; shape: number[]; data: Float32Array }[],
  metadata?: Record<string, string>,
): Uint8Array {
  // JSON header: metadata first, then tensors back to back
  const header: Record<string, unknown> = metadata ? { [METADATA_KEY]: metadata } : {};
  let offset = 0;
  for (const { name, shape, data } of tensors) {
    if (name === METADATA_KEY || name in header) {
      throw new InternalError('writeSafetensors', `tensor name ${name} is reserved or repeated`);
    }
    if (elementCount(shape) !== data.length) {
      throw new InternalError(
        'writeSafetensors',
        `tensor ${name} has shape [${shape.join(', ')}] but ${data.length} values`,
      );
    }
    const end = offset + data.length * BLOCKS.f32.bytes;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, end] };
    offset = end;
  }

  // pad the header with spaces so the data region starts 8-byte aligned
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);

  // tensor data, little-endian f32 (the host order)
  let at = 8 + headerLength;
  for (const { data } of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return out;
}

function corrupt(path: string, detail: string): SmeltError {
  return new SmeltError('WEIGHT302', `${path}: ${detail}`);
}

/** A short rendering of a JSON value for messages. */
function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
