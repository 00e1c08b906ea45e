// The per-tensor dtype rules of `smelt quantize` (llama-quantize's, for q8_0 / q4_0 / f16 /
// bf16 / f32 targets), one case per branch.
import { describe, expect, test } from '@jest/globals';
import { chooseDType } from '../../src/runtime/quantize.js';

describe('chooseDType', () => {
  test('1-D tensors and an f32 target stay f32', () => {
    expect(chooseDType('blk.0.attn_norm.weight', [64], 'q4_0')).toEqual({ dtype: 'f32' });
    expect(chooseDType('blk.0.attn_norm.weight', [64], 'f16')).toEqual({ dtype: 'f32' });
    expect(chooseDType('blk.0.ffn_down.weight', [64, 172], 'f32')).toEqual({ dtype: 'f32' });
  });

  test('2-D tensors take the target; float targets have no block to fall back from', () => {
    expect(chooseDType('blk.0.attn_q.weight', [64, 64], 'q4_0')).toEqual({ dtype: 'q4_0' });
    expect(chooseDType('blk.0.ffn_down.weight', [64, 172], 'f16')).toEqual({ dtype: 'f16' });
    expect(chooseDType('blk.0.ffn_down.weight', [64, 172], 'bf16')).toEqual({ dtype: 'bf16' });
    expect(chooseDType('output.weight', [512, 64], 'f16')).toEqual({ dtype: 'f16' });
  });

  test('rows that are not whole blocks fall back to f16, with the reason', () => {
    expect(chooseDType('blk.0.ffn_down.weight', [64, 172], 'q8_0')).toEqual({ dtype: 'f16',
      fallback: 'rows of 172 elements are not a multiple of the 32-element q8_0 block' });
    expect(chooseDType('output.weight', [512, 40], 'q4_0')).toEqual({ dtype: 'f16',
      fallback: 'rows of 40 elements are not a multiple of the 32-element q8_0 block' });
  });

  test('the classifier is q8_0 under a quantized target; q6_K is noted, not written', () => {
    expect(chooseDType('output.weight', [512, 64], 'q4_0')).toEqual({ dtype: 'q8_0' });
    expect(chooseDType('output.weight', [512, 64], 'q8_0')).toEqual({ dtype: 'q8_0' });
    expect(chooseDType('output.weight', [49152, 768], 'q4_0')).toEqual({ dtype: 'q8_0',
      note: 'llama-quantize would store output.weight as q6_K (rows of 768); smelt writes q8_0' });
    expect(chooseDType('output.weight', [49152, 768], 'q8_0')).toEqual({ dtype: 'q8_0' });
  });

  test('token_embd follows the target, unless no output.weight is written', () => {
    expect(chooseDType('token_embd.weight', [512, 64], 'q4_0')).toEqual({ dtype: 'q4_0' });
    expect(chooseDType('token_embd.weight', [512, 64], 'q4_0', false)).toEqual({ dtype: 'q8_0' });
  });
});
