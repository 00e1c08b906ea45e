// The stored dtypes of ir/quant.ts: block byte counts, f32 → f16 / bf16 rounding on every
// half and at every rounding midpoint, and ggml's q8_0 / q4_0 rules on hand-made blocks
// (scale choice, roundf's halfway cases, the q4_0 clamp, sign of max, all-zero blocks).
import { describe, expect, test } from '@jest/globals';
import { InternalError } from '../../ir/diagnostics.js';
import {
  QK, STORED, STORED_DTYPES, bf16ToF32, decode, encode, f16ToF32, f32ToBf16, f32ToF16,
  storedBytes,
} from '../../ir/quant.js';

/** One block's f16 d bits and its quant bytes. */
function block(bytes: Uint8Array, b = 0, size = 34) {
  const o = b * size;
  return { d: bytes[o]! | (bytes[o + 1]! << 8), qs: [...bytes.subarray(o + 2, o + size)] };
}

const q8 = (qs: number[]) => qs.map((q) => (q << 24) >> 24);

describe('block layouts', () => {
  test('byte counts and ggml type numbers', () => {
    expect(STORED.q8_0).toEqual({ elements: 32, bytes: 34, ggmlType: 8 });
    expect(STORED.q4_0).toEqual({ elements: 32, bytes: 18, ggmlType: 2 });
    expect(STORED.f16).toEqual({ elements: 1, bytes: 2, ggmlType: 1 });
    expect(STORED.bf16).toEqual({ elements: 1, bytes: 2, ggmlType: 30 });
    expect(STORED.f32).toEqual({ elements: 1, bytes: 4, ggmlType: 0 });
    expect(QK).toBe(32);
    expect(storedBytes('q8_0', 64 * 64)).toBe(4352); // stories260K attn_q in the q8_0 file
    expect(storedBytes('q4_0', 172 * 64)).toBe(6192); // ffn_gate in the q4_0 file
  });

  test('every dtype encodes to its byte count and a partial block is an internal error', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    for (const dtype of STORED_DTYPES) {
      expect(encode(dtype, x).length).toBe(storedBytes(dtype, 64));
    }
    expect(() => encode('q4_0', new Float32Array(48))).toThrow(InternalError);
  });
});

describe('f32 → f16', () => {
  test('every finite half survives f16 → f32 → f16, with its sign', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue;
      if (f32ToF16(f16ToF32(h)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  test('a midpoint between two halves goes to the even one; just past it, to the nearest', () => {
    const bad: number[] = [];
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (f16ToF32(h) + f16ToF32(h + 1)) / 2; // exact in f32
      const even = h % 2 === 0 ? h : h + 1;
      const above = mid + Math.abs(mid) * 2 ** -23;
      const below = mid - Math.abs(mid) * 2 ** -23;
      if (f32ToF16(mid) !== even || f32ToF16(Math.fround(above)) !== h + 1 ||
        f32ToF16(Math.fround(below)) !== h) bad.push(h);
    }
    expect(bad).toEqual([]);
  });

  test('overflow, underflow, infinities and NaN', () => {
    expect(f32ToF16(65504)).toBe(0x7bff);
    expect(f32ToF16(65519.99)).toBe(0x7bff); // below the midpoint to 65536
    expect(f32ToF16(65520)).toBe(0x7c00); // the midpoint rounds to even: infinity
    expect(f32ToF16(-1e10)).toBe(0xfc00);
    expect(f32ToF16(Infinity)).toBe(0x7c00);
    expect(f32ToF16(NaN)).toBe(0x7e00); // ggml's generic conversion: a quiet NaN
    expect(f32ToF16(2 ** -25)).toBe(0x0000); // half the smallest subnormal: ties to 0
    expect(f32ToF16(Math.fround(2 ** -25 * 1.0001))).toBe(0x0001);
    expect(f32ToF16(-(2 ** -24))).toBe(0x8001);
    expect(f32ToF16(1e-30)).toBe(0x0000);
    expect(f32ToF16(-0)).toBe(0x8000);
  });
});

describe('f32 → bf16', () => {
  test('round to nearest even on the dropped 16 bits', () => {
    const bits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;
    expect(f32ToBf16(bits(0x3f808000))).toBe(0x3f80); // tie, even stays
    expect(f32ToBf16(bits(0x3f818000))).toBe(0x3f82); // tie, odd rounds up
    expect(f32ToBf16(bits(0x3f808001))).toBe(0x3f81);
    expect(f32ToBf16(bits(0x3f807fff))).toBe(0x3f80);
    expect(f32ToBf16(bits(0x7f7fffff))).toBe(0x7f80); // the largest float rounds to inf
    expect(f32ToBf16(bits(0x00018000))).toBe(0x0002); // subnormals are rounded, not flushed
    expect(f32ToBf16(-2)).toBe(0xc000);
  });

  test('a NaN keeps its sign and top payload and becomes quiet', () => {
    const bits = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0]!;
    expect(f32ToBf16(bits(0x7f800001))).toBe(0x7fc0); // signalling NaN, payload in low bits
    expect(f32ToBf16(bits(0xff812345))).toBe(0xffc1);
    expect(bf16ToF32(f32ToBf16(NaN))).toBeNaN();
  });
});

describe('q8_0 as quantize_row_q8_0_ref', () => {
  test('d = amax/127 and roundf rounds halfway cases away from zero', () => {
    const x = new Float32Array(32);
    x.set([127, 2.5, -2.5, 0.5, -0.5, 1.49, -126.5, 0.49999997]);
    const { d, qs } = block(encode('q8_0', x));
    expect(d).toBe(0x3c00); // d = 1
    expect(q8(qs).slice(0, 9)).toEqual([127, 3, -3, 1, -1, 1, -127, 0, 0]);
  });

  test('the scale is rounded to f16 but q uses the f32 scale', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 7);
    const bytes = encode('q8_0', x);
    const d = Math.fround(Math.fround(16 / 7) / 127);
    const { d: bits, qs } = block(bytes);
    expect(bits).toBe(f32ToF16(d));
    const id = Math.fround(1 / d);
    expect(q8(qs)).toEqual([...x].map((v) => {
      const s = Math.fround(v * id);
      return Math.sign(s) * Math.floor(Math.abs(s) + 0.5) || 0;
    }));
  });

  test('an all-zero block stores d = +0 and q = 0', () => {
    const bytes = encode('q8_0', new Float32Array(64));
    expect(block(bytes, 1)).toEqual({ d: 0x0000, qs: new Array(32).fill(0) });
  });
});

describe('q4_0 as quantize_row_q4_0_ref', () => {
  test('d = max/−8 keeps the sign of the largest magnitude; nibbles clamp at 15', () => {
    const x = new Float32Array(32);
    x.set([-8, 7.6, 7.4, 0, -0.3]); // max = −8, so d = 1 and q = trunc(x + 8.5)
    x[16] = 8; // → 16.5 truncated to 16, clamped to 15
    x[17] = -7.6; // → 0.9 → 0
    const { d, qs } = block(encode('q4_0', x), 0, 18);
    expect(d).toBe(0x3c00);
    const lo = qs.map((b) => b & 15);
    const hi = qs.map((b) => b >> 4);
    expect(lo.slice(0, 5)).toEqual([0, 15, 15, 8, 8]);
    expect(hi.slice(0, 3)).toEqual([15, 0, 8]);
  });

  test('the first of two equal magnitudes sets the sign of d', () => {
    const x = new Float32Array(32);
    x[3] = 4;
    x[9] = -4;
    expect(block(encode('q4_0', x), 0, 18).d).toBe(f32ToF16(-0.5));
    x[3] = -4;
    x[9] = 4;
    expect(block(encode('q4_0', x), 0, 18).d).toBe(f32ToF16(0.5));
  });

  test('byte j holds element j low and element j+16 high', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i < 16 ? -8 : 7));
    x[0] = -8;
    const { qs } = block(encode('q4_0', x), 0, 18);
    expect(qs).toEqual(new Array(16).fill(0 | (15 << 4)));
  });

  test('an all-zero block stores d = −0 (0 / −8) and every nibble 8', () => {
    const { d, qs } = block(encode('q4_0', new Float32Array(32)), 0, 18);
    expect(d).toBe(0x8000);
    expect(qs).toEqual(new Array(16).fill(0x88));
  });
});

describe('decode inverts encode within the format error', () => {
  const x = Float32Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  test.each(STORED_DTYPES)('%s', (dtype) => {
    const back = decode(dtype, encode(dtype, x), x.length);
    const amax = Math.max(...x.map(Math.abs));
    const tolerance = { f32: 0, f16: amax * 2 ** -11, bf16: amax * 2 ** -8,
      q8_0: (amax / 127) * (0.5 + 127 * 2 ** -11), q4_0: (amax / 8) * 1.01 }[dtype];
    x.forEach((v, i) => expect(Math.abs(back[i]! - v)).toBeLessThanOrEqual(tolerance));
  });
});
