// Truncated, corrupt and hostile weight files: each must be a SmeltError with the expected
// code and the file path in its message, never a RangeError or a huge allocation.
import { describe, expect, test } from '@jest/globals';
import { SmeltError } from '../../ir/diagnostics.js';
import { tensorToF32 } from '../../src/runtime/weights/dequant.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { readLlama2cHeader } from '../../src/runtime/weights/llama2c.js';
import { readSafetensors } from '../../src/runtime/weights/safetensors.js';
import {
  Bytes, GT, type GgufTensorSpec, buildGguf, expectSmeltError, f32Bytes, prng, storiesBytes,
} from './helpers.js';

const P = '/tmp/bad.gguf';

/** A GGUF prefix: header with the given counts, then whatever `rest` writes. */
function ggufHead(tensors: number | bigint, kv: number | bigint): Bytes {
  return new Bytes().raw([0x47, 0x47, 0x55, 0x46]).u32(3).u64(tensors).u64(kv);
}

/** A one-tensor GGUF with `w` overridden. */
function oneTensor(w: Partial<GgufTensorSpec>, kv: [string, number, unknown][] = []): Uint8Array {
  const tensor = { name: 'w', ne: [6], type: 0, data: f32Bytes([1, 2, 3, 4, 5, 6]), ...w };
  return buildGguf({ kv, tensors: [tensor] });
}

describe('truncated stories260K-f32.gguf', () => {
  const { bytes } = storiesBytes('stories260K-f32.gguf');
  const infoStart = Buffer.from(bytes).indexOf('token_embd.weight') - 8;
  const dataStart = 14176;

  test.each([
    ['header', 0, 'GGUF header needs 4 bytes at offset 0 but file ends at 0'],
    ['header', 6, 'GGUF version needs 4 bytes at offset 4 but file ends at 6'],
    ['header', 12, 'GGUF header needs 8 bytes at offset 8 but file ends at 12'],
    ['header', 24, 'tensor count 48, which needs at least 1152 bytes'],
    ['metadata', 2000, 'metadata value tokenizer.ggml.tokens has array length 512'],
    ['metadata', 5000, 'metadata value'],
    ['tensor info', infoStart + 10, 'tensor info #0'],
    ['tensor info', infoStart + 500, 'tensor'],
    ['data', dataStart + 100,
      `tensor token_embd.weight needs 131072 bytes at offset ${dataStart} but file ends at`],
    ['data', bytes.length - 1, `but file ends at ${bytes.length - 1}`],
  ])('cut in the %s at %i', (_where, cut, fragment) => {
    expectSmeltError(() => readGguf(P, bytes.subarray(0, cut)), 'WEIGHT302', P, fragment);
  });

  test('cuts all through the header are WEIGHT302', () => {
    const cuts = Array.from({ length: dataStart + 64 }, (_, cut) => cut).filter(
      (cut) => cut < 512 || cut % 13 === 0 || Math.abs(cut - dataStart) < 64,
    );
    const wrong: string[] = [];
    for (const cut of cuts) {
      try {
        readGguf(P, bytes.subarray(0, cut));
        wrong.push(`${cut}: parsed`);
      } catch (e) {
        const ok = e instanceof SmeltError && e.code === 'WEIGHT302' && e.message.includes(P);
        if (!ok) wrong.push(`${cut}: ${String(e)}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('hostile GGUF headers', () => {
  test('a metadata string length of 2^62', () => {
    const bytes = ggufHead(0, 1).str('general.name').u32(GT.STRING).u64(2n ** 62n).raw([1, 2]);
    expectSmeltError(() => readGguf(P, bytes.bytes()), 'WEIGHT302', P, 'general.name',
      'string length 4611686018427387904', `file ends at ${bytes.length}`);
  });

  test('a key length of 2^64 − 1', () => {
    const bytes = ggufHead(0, 1).u64(2n ** 64n - 1n).raw(new Uint8Array(16)).bytes();
    expectSmeltError(() => readGguf(P, bytes), 'WEIGHT302', P, 'metadata key #0',
      'string length 18446744073709551615');
  });

  test('huge array, metadata and tensor counts', () => {
    const arr = ggufHead(0, 1).str('a').u32(GT.ARRAY).u32(GT.U32).u64(2n ** 61n).bytes();
    expectSmeltError(() => readGguf(P, arr), 'WEIGHT302', P, 'metadata value a',
      'array length 2305843009213693952');
    expectSmeltError(() => readGguf(P, ggufHead(0, 2n ** 63n).bytes()), 'WEIGHT302', P,
      'metadata count 9223372036854775808');
    expectSmeltError(() => readGguf(P, ggufHead(2n ** 40n, 0).bytes()), 'WEIGHT302', P,
      'tensor count 1099511627776');
  });

  test('arrays nested 10000 deep do not exhaust the stack', () => {
    const w = ggufHead(0, 1).str('deep').u32(GT.ARRAY);
    for (let i = 0; i < 10000; i++) w.u32(GT.ARRAY).u64(1);
    expectSmeltError(() => readGguf(P, w.bytes()), 'WEIGHT302', P, 'deep',
      'nests arrays deeper than');
  });

  test('bad metadata values', () => {
    const bool = buildGguf({ kv: [['b', GT.BOOL, 7]] });
    expectSmeltError(() => readGguf(P, bool), 'WEIGHT302', P, 'metadata value b', 'stored as 7');
    const type = ggufHead(0, 1).str('x').u32(13).u32(0).bytes();
    expectSmeltError(() => readGguf(P, type), 'WEIGHT302', P, 'unknown value type 13');
    const elem = ggufHead(0, 1).str('x').u32(GT.ARRAY).u32(42).u64(0).bytes();
    expectSmeltError(() => readGguf(P, elem), 'WEIGHT302', P, 'arrays of unknown value type 42');
    const dup = buildGguf({ kv: [['k', GT.U8, 1], ['k', GT.U8, 2]] });
    expectSmeltError(() => readGguf(P, dup), 'WEIGHT302', P, 'metadata key k appears twice');
  });

  test.each([[0], [48], ['x']])('general.alignment %p', (a) => {
    const kv: [string, number, unknown] = typeof a === 'string'
      ? ['general.alignment', GT.STRING, a]
      : ['general.alignment', GT.U32, a];
    expectSmeltError(() => readGguf(P, buildGguf({ kv: [kv] })), 'WEIGHT302', P,
      'general.alignment', 'expected a power of two');
  });

  test('bad tensor infos', () => {
    expectSmeltError(() => readGguf(P, oneTensor({ ne: [-4] })), 'WEIGHT302', P,
      'tensor w has ne[0] = -4');
    expectSmeltError(() => readGguf(P, oneTensor({ ne: [1, 1, 1, 1, 6] })), 'WEIGHT302', P,
      'tensor w has 5 dimensions');
    expectSmeltError(() => readGguf(P, oneTensor({ ne: [2 ** 40, 2 ** 40] })), 'WEIGHT302', P,
      'tensor w has shape [1099511627776, 1099511627776], too large');
    expectSmeltError(() => readGguf(P, oneTensor({ ne: [48, 1], type: 2 })), 'WEIGHT302', P,
      'tensor w (q4_0) has rows of 48 elements');
    const twice = buildGguf({ tensors: [
      { name: 'w', ne: [1], type: 0, data: f32Bytes([1]) },
      { name: 'w', ne: [1], type: 0, data: f32Bytes([1]) },
    ] });
    expectSmeltError(() => readGguf(P, twice), 'WEIGHT302', P, 'tensor w appears twice');
  });

  test('tensor offsets past the end or unaligned', () => {
    const past = oneTensor({ offset: 1 << 20 });
    expectSmeltError(() => readGguf(P, past), 'WEIGHT302', P,
      `tensor w needs 24 bytes at offset ${(1 << 20) + 64}`, `but file ends at ${past.length}`);
    expectSmeltError(() => readGguf(P, oneTensor({ offset: 2n ** 64n - 32n })), 'WEIGHT302', P,
      'tensor w needs 24 bytes at offset 64 + 18446744073709551584');
    expectSmeltError(() => readGguf(P, oneTensor({ offset: 4 })), 'WEIGHT302', P,
      'data offset 4, expected a multiple of 32');
  });

  test('unknown tensor types are WEIGHT305 naming the tensor and the type', () => {
    expectSmeltError(() => readGguf(P, oneTensor({ type: 12 })), 'WEIGHT305', P,
      'tensor w has ggml type 12 (Q4_K)', 'Q8_0 (8)');
    expectSmeltError(() => readGguf(P, oneTensor({ type: 99 })), 'WEIGHT305', P, 'ggml type 99');
  });
});

describe('garbage', () => {
  test('random bytes are not GGUF (WEIGHT303); after a GGUF magic they are a SmeltError', () => {
    const next = prng(7);
    for (let i = 0; i < 200; i++) {
      const bytes = Uint8Array.from({ length: 16 + Math.floor(next() * 2000) }, () => next() * 256);
      if (bytes[0] === 0x47) bytes[0] = 0;
      expectSmeltError(() => readGguf(P, bytes), 'WEIGHT303', P, 'not a GGUF file');
      const magic = ggufHead(0, 0).bytes().subarray(0, 8);
      bytes.set(magic.subarray(0, 4));
      bytes.set(next() < 0.5 ? magic.subarray(4, 8) : [2, 0, 0, 0], 4);
      expect(() => readGguf(P, bytes)).toThrow(SmeltError);
    }
  });

  test('random mutations of a real header parse or fail with a SmeltError', () => {
    const { bytes } = storiesBytes('stories260K-q4_0.gguf');
    const infoStart = Buffer.from(bytes).indexOf('blk.0.attn_k.weight') - 8;
    const next = prng(11);
    const wrong: string[] = [];
    for (let i = 0; i < 300; i++) {
      const copy = bytes.slice();
      const lo = i % 2 === 0 ? 0 : infoStart;
      for (let k = 0; k < 1 + (i % 4); k++) {
        copy[lo + Math.floor(next() * (14240 - lo))] = Math.floor(next() * 256);
      }
      try {
        const file = readGguf(P, copy);
        for (const t of file.tensors.values()) tensorToF32(file, t);
      } catch (e) {
        if (!(e instanceof SmeltError)) wrong.push(`${i}: ${String(e)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test('zero-length files', () => {
    const empty = new Uint8Array(0);
    expectSmeltError(() => readGguf(P, empty), 'WEIGHT302', P, 'file ends at 0');
    expectSmeltError(() => readSafetensors('/tmp/e.st', empty), 'WEIGHT302', '/tmp/e.st');
    expectSmeltError(() => readLlama2cHeader('/tmp/e.bin', empty), 'WEIGHT302', '/tmp/e.bin');
  });
});

describe('corrupt safetensors', () => {
  const S = '/tmp/bad.safetensors';
  /** A safetensors file with a raw JSON header and `data` bytes. */
  function st(json: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
    return new Bytes().str(json).raw(data).bytes(); // u64 length, then the JSON
  }
  const entry = (e: object) => JSON.stringify({ w: e });
  const data = f32Bytes([1, 2, 3, 4]);

  test('header length past the end', () => {
    const bytes = new Bytes().u64(1000).raw([0x7b, 0x7d]).bytes();
    expectSmeltError(() => readSafetensors(S, bytes), 'WEIGHT302', S,
      'JSON header needs 1000 bytes at offset 8 but file ends at 10');
  });

  test('bad JSON, a non-object header, invalid UTF-8', () => {
    expectSmeltError(() => readSafetensors(S, st('{"w": ')), 'WEIGHT302', S, 'not valid');
    expectSmeltError(() => readSafetensors(S, st('[1, 2]')), 'WEIGHT302', S, 'expected an object');
    const utf8 = new Bytes().u64(3).raw([0x7b, 0xff, 0x7d]).bytes();
    expectSmeltError(() => readSafetensors(S, utf8), 'WEIGHT302', S, 'not valid');
  });

  test('offsets past the end or out of order; sizes that disagree with the shape', () => {
    const past = st(entry({ dtype: 'F32', shape: [4], data_offsets: [8, 24] }), data);
    expectSmeltError(() => readSafetensors(S, past), 'WEIGHT302', S, 'tensor w needs 16 bytes',
      `but file ends at ${past.length}`);
    const order = st(entry({ dtype: 'F32', shape: [0], data_offsets: [8, 4] }), data);
    expectSmeltError(() => readSafetensors(S, order), 'WEIGHT302', S, 'data_offsets [8,4]');
    const size = st(entry({ dtype: 'F32', shape: [3], data_offsets: [0, 16] }), data);
    expectSmeltError(() => readSafetensors(S, size), 'WEIGHT302', S, 'tensor w',
      'needs 12 bytes but data_offsets [0, 16] hold 16');
    const shape = st(entry({ dtype: 'F32', shape: [-4], data_offsets: [0, 16] }), data);
    expectSmeltError(() => readSafetensors(S, shape), 'WEIGHT302', S, 'shape [-4]');
  });

  test('unsupported dtypes are WEIGHT305; non-string metadata is WEIGHT302', () => {
    const i32 = st(entry({ dtype: 'I32', shape: [4], data_offsets: [0, 16] }), data);
    expectSmeltError(() => readSafetensors(S, i32), 'WEIGHT305', S, 'tensor w has dtype I32',
      'F32, F16, BF16');
    const meta = st(JSON.stringify({ __metadata__: { n: 3 } }));
    expectSmeltError(() => readSafetensors(S, meta), 'WEIGHT302', S, '__metadata__.n is 3');
  });
});
