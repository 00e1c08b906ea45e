// RoPE frequency scaling (ir/rope.ts) against the properties each family defines, on the
// published shapes: Llama 3.2's llama3 scaling, YaRN, NTK-aware and linear.
import { expect, test } from '@jest/globals';
import { invFreq, isPlainRope, ropeFrequencies } from '../../ir/rope.js';

const plain = (theta: number, d: number, j: number) => Math.pow(theta, (-2 * j) / d);

test('llama3 (Llama-3.2-1B): short wavelengths kept, long ones ÷ 32, smooth between', () => {
  const r = ropeFrequencies({ head_size: 64, theta: 500000, llama3_factor: 32,
    llama3_low_freq_factor: 1, llama3_high_freq_factor: 4, llama3_orig_ctx: 8192 });
  const wavelen = (j: number) => (2 * Math.PI) / plain(500000, 64, j);
  for (let j = 0; j < 32; j++) {
    if (wavelen(j) < 8192 / 4) expect(r.gain[j]).toBe(1);
    else if (wavelen(j) > 8192) expect(r.gain[j]).toBeCloseTo(1 / 32, 12);
    else expect(r.gain[j]! > 1 / 32 && r.gain[j]! < 1).toBe(true);
  }
  // the gains fall monotonically with the wavelength, and every band occurs
  expect(r.gain.every((g, j) => j === 0 || g <= r.gain[j - 1]!)).toBe(true);
  expect(new Set(r.gain.map((g) => (g === 1 ? 'keep' : g === 1 / 32 ? 'scale' : 'mix'))).size)
    .toBe(3);
  expect(r.mscale).toBe(1);
});

test('YaRN ×4 over 4096: fast pairs kept, slow ones ÷ 4, attention factor 0.1·ln 4 + 1', () => {
  const r = ropeFrequencies({ head_size: 128, theta: 10000, yarn_factor: 4,
    yarn_orig_ctx: 4096 });
  expect(r.gain[0]).toBe(1);
  expect(r.gain[63]).toBeCloseTo(0.25, 12);
  expect(r.mscale).toBeCloseTo(0.1 * Math.log(4) + 1, 12);
});

test('NTK-aware α 8 raises theta by α^(d/(d-2)); linear ×4 divides every frequency', () => {
  const ntk = ropeFrequencies({ head_size: 64, theta: 10000, ntk_alpha: 8 });
  expect(ntk.theta).toBeCloseTo(10000 * Math.pow(8, 64 / 62), 6);
  expect(invFreq(ntk, 0)).toBe(1);
  const linear = ropeFrequencies({ head_size: 64, theta: 10000, linear_factor: 4 });
  expect(invFreq(linear, 5)).toBeCloseTo(plain(10000, 64, 5) / 4, 15);
});

test('partial rotary uses rot_dims as the exponent base; plain attrs keep the old kernel', () => {
  const r = ropeFrequencies({ head_size: 96, theta: 10000, rot_dims: 32 });
  expect(r.gain).toHaveLength(16);
  expect(invFreq(r, 3)).toBeCloseTo(plain(10000, 32, 3), 15);
  expect(isPlainRope({ head_size: 8, theta: 10000 })).toBe(true);
  expect(isPlainRope({ head_size: 8, theta: 10000, rot_dims: 8, neox: false })).toBe(true);
  expect(isPlainRope({ head_size: 8, theta: 10000, neox: true })).toBe(false);
});
