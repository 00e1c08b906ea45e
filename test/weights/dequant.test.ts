// Decoders: half/bfloat special values, hand-made Q8_0/Q4_0 blocks, and the quantized
// stories260K GGUFs against the F32 one within each format's quantization error.
import { describe, expect, test } from '@jest/globals';
import {
  BLOCKS,
  bf16ToF32,
  f16ToF32,
  tensorToF32,
} from '../../src/runtime/weights/dequant.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { readLlama2cHeader, layoutLlama2c } from '../../src/runtime/weights/llama2c.js';
import type { FileDType, TensorEntry, WeightFile } from '../../src/runtime/weights/types.js';
import { expectSmeltError, f32Bytes, storiesBytes } from './helpers.js';

function handMade(bytes: Uint8Array, entry: Omit<TensorEntry, 'name'>): [WeightFile, TensorEntry] {
  const e = { name: 'w', ...entry };
  const file: WeightFile = {
    path: '/tmp/hand.bin', format: 'gguf', metadata: new Map(), tensors: new Map([['w', e]]), bytes,
  };
  return [file, e];
}

describe('f16ToF32 / bf16ToF32', () => {
  test('half special values', () => {
    expect(Object.is(f16ToF32(0x0000), 0)).toBe(true);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0x0001)).toBe(2 ** -24); // smallest subnormal
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24); // largest subnormal
    expect(f16ToF32(0x0400)).toBe(2 ** -14); // smallest normal
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0x3555)).toBe(Math.fround(0.333251953125));
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(f16ToF32(0x7e00)).toBeNaN();
    expect(f16ToF32(0xfc01)).toBeNaN();
  });

  test('every finite positive half is exact in f32 and strictly increasing', () => {
    const bad: number[] = [];
    let prev = -1;
    for (let h = 0; h < 0x7c00; h++) {
      const v = f16ToF32(h);
      if (!(v > prev && Math.fround(v) === v && f16ToF32(h | 0x8000) === -v)) bad.push(h);
      prev = v;
    }
    expect(bad).toEqual([]);
  });

  test('bfloat16 special values', () => {
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(bf16ToF32(0xc000)).toBe(-2);
    expect(bf16ToF32(0x0001)).toBe(2 ** -133); // smallest subnormal
    expect(bf16ToF32(0x7f80)).toBe(Infinity);
    expect(bf16ToF32(0xff80)).toBe(-Infinity);
    expect(bf16ToF32(0x7fc0)).toBeNaN();
    expect(Object.is(bf16ToF32(0x8000), -0)).toBe(true);
  });
});

describe('tensorToF32 on hand-made data', () => {
  test('f32 at an unaligned offset', () => {
    const bytes = new Uint8Array(3 + 12);
    bytes.set(f32Bytes([1.5, -2, 1e-30]), 3);
    const [file, e] = handMade(bytes, { dtype: 'f32', shape: [3], offset: 3, byteLength: 12 });
    expect([...tensorToF32(file, e)]).toEqual([1.5, -2, Math.fround(1e-30)]);
  });

  test('f16 and bf16 at an odd offset', () => {
    const bytes = new Uint8Array([9, 0x00, 0x3c, 0x01, 0x00, 0x80, 0x3f]);
    const [f, h] = handMade(bytes, { dtype: 'f16', shape: [2], offset: 1, byteLength: 4 });
    expect([...tensorToF32(f, h)]).toEqual([1, 2 ** -24]);
    const [g, b] = handMade(bytes, { dtype: 'bf16', shape: [1], offset: 5, byteLength: 2 });
    expect([...tensorToF32(g, b)]).toEqual([1]);
  });

  test('q8_0: w = d·q with a signed int8 q', () => {
    const block = new Uint8Array(34);
    block.set([0x00, 0x38]); // d = 0.5
    for (let j = 0; j < 32; j++) block[2 + j] = (j * 8 - 128) & 0xff; // -128, -120, ..., 120
    const bytes = new Uint8Array(1 + 68);
    bytes.set(block, 1);
    bytes.set(block, 35);
    bytes[35] = 0x00; bytes[36] = 0xbc; // second block d = -1
    const [file, e] = handMade(bytes, { dtype: 'q8_0', shape: [2, 32], offset: 1, byteLength: 68 });
    const out = tensorToF32(file, e);
    for (let j = 0; j < 32; j++) {
      expect(out[j]).toBe(0.5 * (j * 8 - 128));
      expect(out[32 + j]).toBe(-(j * 8 - 128));
    }
  });

  test('q4_0: byte j holds element j (low nibble) and element j+16 (high nibble)', () => {
    const bytes = new Uint8Array(18);
    bytes.set([0x00, 0x40]); // d = 2
    for (let j = 0; j < 16; j++) bytes[2 + j] = j | ((15 - j) << 4);
    const [file, e] = handMade(bytes, { dtype: 'q4_0', shape: [32], offset: 0, byteLength: 18 });
    const out = tensorToF32(file, e);
    for (let j = 0; j < 16; j++) {
      expect(out[j]).toBe(2 * (j - 8));
      expect(out[j + 16]).toBe(2 * (7 - j));
    }
  });

  test('bad entries are WEIGHT302', () => {
    const bytes = new Uint8Array(200);
    const rows = handMade(bytes, { dtype: 'q8_0', shape: [2, 48], offset: 0, byteLength: 102 });
    expectSmeltError(() => tensorToF32(...rows), 'WEIGHT302', '/tmp/hand.bin', 'tensor w',
      'rows of 48 elements', 'multiple of the 32-element block');
    const size = handMade(bytes, { dtype: 'f16', shape: [4], offset: 0, byteLength: 6 });
    expectSmeltError(() => tensorToF32(...size), 'WEIGHT302', 'should take 8 bytes but takes 6');
    const past = handMade(bytes, { dtype: 'f32', shape: [10], offset: 180, byteLength: 40 });
    expectSmeltError(() => tensorToF32(...past), 'WEIGHT302',
      'needs 40 bytes at offset 180 but file ends at 200');
    const neg = handMade(bytes, { dtype: 'f32', shape: [-1], offset: 0, byteLength: -4 });
    expectSmeltError(() => tensorToF32(...neg), 'WEIGHT302', 'shape [-1]');
  });
});

describe('stories260K quantized GGUFs against the F32 weights', () => {
  const f32 = (() => {
    const { path, bytes } = storiesBytes('stories260K-f32.gguf');
    return readGguf(path, bytes);
  })();
  const reference = (name: string) => tensorToF32(f32, f32.tensors.get(name)!);

  /** Largest |dequantized − f32| divided by the block's allowed error, over a tensor. */
  function worstRatio(file: WeightFile, t: TensorEntry, ref: Float32Array): number {
    const got = tensorToF32(file, t);
    expect(got.length).toBe(ref.length);
    const { elements, bytes } = BLOCKS[t.dtype];
    let worst = 0;
    for (let b = 0; b < ref.length / elements; b++) {
      const o = t.offset + b * bytes;
      const d = Math.abs(f16ToF32(file.bytes[o]! | (file.bytes[o + 1]! << 8)));
      for (let i = b * elements; i < (b + 1) * elements; i++) {
        const allowed = allowedError(t.dtype, d, ref[i]!);
        const err = Math.abs(got[i]! - ref[i]!);
        worst = Math.max(worst, allowed === 0 ? (err === 0 ? 0 : Infinity) : err / allowed);
      }
    }
    return worst;
  }

  /**
   * The rounding error each format allows. Q8_0: q = round(w/d') with d' = amax/127, half a
   * step, plus |d − d'|·|q| from storing d as f16 (d' within 2^-11 relative). Q4_0: a full
   * step, because the top value clamps nibble 16 to 15, plus |d − d'|·8.
   */
  function allowedError(dtype: FileDType, d: number, w: number): number {
    const f16Step = 2 ** -11 * (1 + 2 ** -10);
    switch (dtype) {
      case 'q8_0': return d * (0.5 + 127 * f16Step) * (1 + 2 ** -20);
      case 'q4_0': return d * (1 + 8 * f16Step) * (1 + 2 ** -20);
      case 'f16': return Math.max(Math.abs(w) * 2 ** -11, 2 ** -25);
      default: return 0; // f32 and bf16 are not in these files; f32 must be exact
    }
  }

  describe.each(['stories260K-q8_0.gguf', 'stories260K-q4_0.gguf'])('%s', (name) => {
    const { path, bytes } = storiesBytes(name);
    const file = readGguf(path, bytes);

    test('blk.0.attn_q.weight is within its block scale of the f32 weights', () => {
      const t = file.tensors.get('blk.0.attn_q.weight')!;
      const ratio = worstRatio(file, t, reference(t.name));
      expect(ratio).toBeLessThanOrEqual(1);
      expect(ratio).toBeGreaterThan(0.5); // the bound is tight, not vacuous
    });

    test('ffn_down is F16 and equals the f32 weights to f16 precision', () => {
      for (let l = 0; l < 5; l++) {
        const t = file.tensors.get(`blk.${l}.ffn_down.weight`)!;
        expect(t.dtype).toBe('f16');
        expect(worstRatio(file, t, reference(t.name))).toBeLessThanOrEqual(1);
      }
    });

    test('every tensor is within its format error; F32 norms are exact', () => {
      for (const t of file.tensors.values()) {
        const ratio = worstRatio(file, t, reference(t.name));
        if (ratio > 1) throw new Error(`${t.name} (${t.dtype}) error ratio ${ratio}`);
      }
    });
  });

  test('token_embd of the F32 GGUF equals the legacy .bin embedding bit for bit', () => {
    const { path, bytes } = storiesBytes('stories260K.bin');
    const header = readLlama2cHeader(path, bytes);
    const bin = layoutLlama2c(path, bytes, header, [{ name: 'emb', shape: [512, 64] }]);
    const a = tensorToF32(bin, bin.tensors.get('emb')!);
    const b = reference('token_embd.weight');
    expect(Buffer.compare(new Uint8Array(a.buffer), new Uint8Array(b.buffer))).toBe(0);
  });
});
