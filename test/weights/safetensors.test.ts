// safetensors: write → read round trip, the on-disk layout, and F16/BF16 reading.
import { describe, expect, test } from '@jest/globals';
import { InternalError } from '../../ir/diagnostics.js';
import { tensorToF32 } from '../../src/runtime/weights/dequant.js';
import { readSafetensors, writeSafetensors } from '../../src/runtime/weights/safetensors.js';
import { Bytes, prng } from './helpers.js';

const next = prng(3);
const tensors = [
  { name: 'tok_embeddings.weight', shape: [5, 3], data: Float32Array.from({ length: 15 }, next) },
  { name: 'norm.weight', shape: [3], data: Float32Array.from([1, -0, NaN]) },
  { name: 'scalar', shape: [], data: Float32Array.from([Infinity]) },
  { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
  { name: 'odd', shape: [1], data: Float32Array.from([7]) },
];

describe('safetensors', () => {
  test('round trip keeps names, order, shapes, metadata and every bit', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const file = readSafetensors('/tmp/rt.safetensors', bytes);
    expect(file.format).toBe('safetensors');
    expect(Object.fromEntries(file.metadata)).toEqual({ format: 'pt', note: 'ünïcode' });
    expect([...file.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const e = file.tensors.get(t.name)!;
      expect(e.dtype).toBe('f32');
      expect(e.shape).toEqual(t.shape);
      const got = tensorToF32(file, e);
      expect(new Uint32Array(got.buffer)).toEqual(new Uint32Array(t.data.buffer));
    }
  });

  test('layout: space-padded header, 8-aligned data, tensors back to back', () => {
    const bytes = writeSafetensors(tensors);
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const json = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(json).toMatch(/^\{.*\} *$/s);
    const header = JSON.parse(json);
    expect(header.__metadata__).toBeUndefined();
    expect(header['tok_embeddings.weight']).toEqual({
      dtype: 'F32', shape: [5, 3], data_offsets: [0, 60],
    });
    expect(header['norm.weight'].data_offsets).toEqual([60, 72]);
    expect(bytes.length).toBe(8 + n + 4 * (15 + 3 + 1 + 0 + 1));
  });

  test('F16 and BF16 tensors read and decode', () => {
    const json = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [1, 2], data_offsets: [4, 8] },
    });
    const data = [0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0x40];
    const bytes = new Bytes().str(json).raw(data).bytes();
    const file = readSafetensors('/tmp/h.safetensors', bytes);
    expect([...file.tensors.keys()]).toEqual(['h', 'b']);
    expect([...tensorToF32(file, file.tensors.get('h')!)]).toEqual([1, -2]);
    expect([...tensorToF32(file, file.tensors.get('b')!)]).toEqual([1, 2]);
  });

  test('the writer rejects data that does not match the shape, and reserved names', () => {
    const bad = [{ name: 'w', shape: [2, 2], data: new Float32Array(3) }];
    expect(() => writeSafetensors(bad)).toThrow(InternalError);
    const reserved = [{ name: '__metadata__', shape: [1], data: new Float32Array(1) }];
    expect(() => writeSafetensors(reserved)).toThrow(InternalError);
  });
});
