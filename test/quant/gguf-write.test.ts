// The GGUF v3 writer against the reader: every metadata type (nested arrays and 64-bit
// values included) and every stored dtype round-trip; ne is written inner → outer; data is
// aligned to 32 or to general.alignment and zero-padded; and rewriting each shared stories260K
// GGUF from what the reader returns reproduces the file made by llama.cpp byte for byte.
import { describe, expect, test } from '@jest/globals';
import { InternalError } from '../../ir/diagnostics.js';
import { STORED_DTYPES, encode } from '../../ir/quant.js';
import { tensorToF32 } from '../../src/runtime/weights/dequant.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import type { GgufKeyValue, GgufTensorOut } from '../../src/runtime/weights/gguf-write.js';
import { writeGguf } from '../../src/runtime/weights/gguf-write.js';
import type { WeightFile } from '../../src/runtime/weights/types.js';
import { storiesBytes } from '../weights/helpers.js';

const METADATA: GgufKeyValue[] = [
  { key: 'general.architecture', type: 'string', value: 'llama' },
  { key: 'a.u8', type: 'u8', value: 255 },
  { key: 'a.i8', type: 'i8', value: -128 },
  { key: 'a.u16', type: 'u16', value: 65535 },
  { key: 'a.i16', type: 'i16', value: -32768 },
  { key: 'a.u32', type: 'u32', value: 0xffffffff },
  { key: 'a.i32', type: 'i32', value: -5 },
  { key: 'a.f32', type: 'f32', value: Math.fround(1e-5) },
  { key: 'a.bool', type: 'bool', value: true },
  { key: 'a.u64', type: 'u64', value: 2n ** 64n - 1n },
  { key: 'a.i64', type: 'i64', value: -(2 ** 40) },
  { key: 'a.f64', type: 'f64', value: 0.1 },
  { key: 'a.utf8', type: 'string', value: '▁héllo 🦙' },
  { key: 'a.tokens', type: { array: 'string' }, value: ['<unk>', '▁a', ''] },
  { key: 'a.scores', type: { array: 'f32' }, value: [0, -1.5, -252] },
  { key: 'a.empty', type: { array: 'i32' }, value: [] },
  { key: 'a.nested', type: { array: { array: 'u16' } }, value: [[1, 2], [], [3]] },
];

function roundTrip(metadata: GgufKeyValue[], tensors: GgufTensorOut[]) {
  const bytes = writeGguf(metadata, tensors);
  return { bytes, file: readGguf('/tmp/written.gguf', bytes) };
}

describe('writeGguf → readGguf', () => {
  test('every metadata type comes back with its value and its type', () => {
    const { file } = roundTrip(METADATA, []);
    expect([...file.metadata.keys()]).toEqual(METADATA.map((m) => m.key));
    for (const m of METADATA) {
      expect(file.metadata.get(m.key)).toEqual(m.value);
      expect(file.ggufTypes!.get(m.key)).toEqual(m.type);
    }
  });

  test('every stored dtype, with ne written inner → outer', () => {
    const x = Float32Array.from({ length: 3 * 64 }, (_, i) => Math.cos(i) * 3);
    const tensors = STORED_DTYPES.map((dtype) =>
      ({ name: `t.${dtype}`, dtype, shape: [3, 64], data: encode(dtype, x) }));
    tensors.push({ name: 'scalar', dtype: 'f32', shape: [5], data: encode('f32', x.slice(0, 5)) });
    const { bytes, file } = roundTrip(METADATA.slice(0, 1), tensors);
    for (const t of tensors) {
      const entry = file.tensors.get(t.name)!;
      expect(entry).toMatchObject({ dtype: t.dtype, shape: t.shape });
      expect(bytes.subarray(entry.offset, entry.offset + entry.byteLength)).toEqual(t.data);
      expect(entry.offset % 32).toBe(0);
    }
    expect(tensorToF32(file, file.tensors.get('t.f32')!)).toEqual(x);

    // the first tensor info: name, n_dims 2, ne = [64, 3], ggml type 0 (f32)
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const name = new TextEncoder().encode('t.f32');
    const at = bytes.findIndex((_, i) => name.every((c, j) => bytes[i + j] === c)) + name.length;
    expect(view.getUint32(at, true)).toBe(2);
    expect(view.getBigInt64(at + 4, true)).toBe(64n);
    expect(view.getBigInt64(at + 12, true)).toBe(3n);
    expect(view.getUint32(at + 20, true)).toBe(0);
  });

  test('data is padded with zeros to the alignment, which general.alignment sets', () => {
    const data = Uint8Array.of(1, 2, 3, 4, 5, 6);
    const t = { name: 'w', dtype: 'f16' as const, shape: [3], data };
    const u = { ...t, name: 'v' };
    for (const alignment of [32, 64]) {
      const meta: GgufKeyValue[] = alignment === 32 ? []
        : [{ key: 'general.alignment', type: 'u32', value: alignment }];
      const { bytes, file } = roundTrip(meta, [t, u]);
      const w = file.tensors.get('w')!;
      const v = file.tensors.get('v')!;
      expect(w.offset % alignment).toBe(0);
      expect(v.offset - w.offset).toBe(alignment);
      expect(bytes.length).toBe(v.offset + alignment);
      expect([...bytes.subarray(w.offset + 6, v.offset)].every((b) => b === 0)).toBe(true);
    }
  });

  test('values that do not fit their type and mis-sized tensors are internal errors', () => {
    const bad: GgufKeyValue[][] = [
      [{ key: 'k', type: 'u8', value: 256 }],
      [{ key: 'k', type: 'u32', value: -1 }],
      [{ key: 'k', type: 'i32', value: 1.5 }],
      [{ key: 'k', type: 'string', value: 3 }],
      [{ key: 'k', type: { array: 'string' }, value: 'x' }],
      [{ key: 'k', type: 'bool', value: true }, { key: 'k', type: 'bool', value: false }],
      [{ key: 'general.alignment', type: 'u32', value: 48 }],
    ];
    for (const metadata of bad) expect(() => writeGguf(metadata, [])).toThrow(InternalError);
    const short = { name: 'w', dtype: 'q8_0' as const, shape: [2, 32], data: new Uint8Array(34) };
    expect(() => writeGguf([], [short])).toThrow(/has 34 bytes, expected 68/);
    const ragged = { name: 'w', dtype: 'q4_0' as const, shape: [48], data: new Uint8Array(27) };
    expect(() => writeGguf([], [ragged])).toThrow(InternalError);
  });
});

/** The metadata and raw tensors of a read file, in file order, ready to write again. */
function contents(file: WeightFile): [GgufKeyValue[], GgufTensorOut[]] {
  const metadata = [...file.metadata].map(([key, value]) =>
    ({ key, value, type: file.ggufTypes!.get(key)! }));
  const tensors = [...file.tensors.values()].map((t) => ({ name: t.name, dtype: t.dtype,
    shape: t.shape, data: file.bytes.subarray(t.offset, t.offset + t.byteLength) }));
  return [metadata, tensors];
}

describe('the shared stories260K GGUFs (written by llama.cpp)', () => {
  test.each(['stories260K-f32.gguf', 'stories260K-q8_0.gguf', 'stories260K-q4_0.gguf'])(
    'rewriting %s from what the reader returns gives the same bytes', (name) => {
      const { path, bytes } = storiesBytes(name);
      const written = writeGguf(...contents(readGguf(path, bytes)));
      expect(written.length).toBe(bytes.length);
      expect(Buffer.compare(written, bytes)).toBe(0);
    });
});
