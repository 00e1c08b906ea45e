// llama2.c reader: headers of both checkpoint versions, and layouts checked bit for bit
// against the F32 GGUF holding the same weights.
import { describe, expect, test } from '@jest/globals';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import {
  type Llama2cHeader,
  layoutLlama2c,
  readLlama2cHeader,
} from '../../src/runtime/weights/llama2c.js';
import type { TensorEntry, WeightFile } from '../../src/runtime/weights/types.js';
import { Bytes, expectSmeltError, storiesBytes } from './helpers.js';

const STORIES = {
  dim: 64, hidden_dim: 172, n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512, seq_len: 512,
};

type Entry = { name: string; shape: number[] };

/** The Llama-2 tensors of a llama2.c checkpoint in file order, under GGUF names. */
function llamaLayout(h: Llama2cHeader): Entry[] {
  const { dim, hidden_dim: hidden, n_layers, vocab_size: V, seq_len } = h;
  const kvDim = (dim * h.n_kv_heads) / h.n_heads;
  const half = dim / h.n_heads / 2;
  const layers = (t: string, shape: number[]): Entry[] =>
    Array.from({ length: n_layers }, (_, l) => ({ name: `blk.${l}.${t}.weight`, shape }));
  const one = (name: string, shape: number[]): Entry[] => [{ name, shape }];
  const matrices = [
    ...layers('attn_q', [dim, dim]), ...layers('attn_k', [kvDim, dim]),
    ...layers('attn_v', [kvDim, dim]), ...layers('attn_output', [dim, dim]),
  ];
  const ffn = [
    ...layers('ffn_gate', [hidden, dim]), ...layers('ffn_down', [dim, hidden]),
    ...layers('ffn_up', [hidden, dim]),
  ];
  const wcls = h.shared_classifier ? [] : one('output.weight', [V, dim]);
  if (h.version === 1) {
    return [
      ...layers('attn_norm', [dim]), ...layers('ffn_norm', [dim]),
      ...one('output_norm.weight', [dim]),
      ...one('token_embd.weight', [V, dim]), ...matrices, ...ffn, ...wcls,
    ];
  }
  return [
    ...one('token_embd.weight', [V, dim]), ...layers('attn_norm', [dim]), ...matrices,
    ...layers('ffn_norm', [dim]), ...ffn, ...one('output_norm.weight', [dim]),
    ...one('skip:freq_cis_real', [seq_len, half]), ...one('skip:freq_cis_imag', [seq_len, half]),
    ...wcls,
  ];
}

function raw(file: WeightFile, t: TensorEntry): Uint8Array {
  return file.bytes.subarray(t.offset, t.offset + t.byteLength);
}

const gguf = (() => {
  const { path, bytes } = storiesBytes('stories260K-f32.gguf');
  return readGguf(path, bytes);
})();

describe.each([
  ['stories260K.bin', 0, 28],
  ['stories260K.v1.bin', 1, 256],
])('%s', (name, version, dataOffset) => {
  const { path, bytes } = storiesBytes(name);
  const header = readLlama2cHeader(path, bytes);

  test('header', () => {
    expect(header).toEqual({ version, dataOffset, ...STORIES, shared_classifier: true });
  });

  test('the layout covers the file exactly; every tensor equals the GGUF one bit for bit', () => {
    const layout = llamaLayout(header);
    const file = layoutLlama2c(path, bytes, header, layout);
    expect(file.format).toBe('llama2c');
    expect(file.tensors.size).toBe(47); // the GGUF's 48 but output.weight (tied) ...
    expect(file.tensors.has('skip:freq_cis_real')).toBe(false); // ... and no RoPE tables
    const floats = layout.reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
    expect(floats).toBe(version === 0 ? 264128 : 264128 - 2 * 512 * 4);
    expect(dataOffset + 4 * floats).toBe(bytes.length);
    for (const t of file.tensors.values()) {
      const g = gguf.tensors.get(t.name)!;
      expect(t.shape).toEqual(g.shape);
      expect(Buffer.compare(raw(file, t), raw(gguf, g))).toBe(0);
    }
    const embd = file.tensors.get('token_embd.weight')!;
    expect(embd.offset).toBe(version === 0 ? 28 : 256 + 4 * (5 * 64 + 5 * 64 + 64));
  });

  test('metadata holds the header fields', () => {
    const file = layoutLlama2c(path, bytes, header, []);
    expect(file.tensors.size).toBe(0);
    expect(file.metadata.get('llama2c.dim')).toBe(64);
    expect(file.metadata.get('llama2c.n_kv_heads')).toBe(4);
    expect(file.metadata.get('llama2c.version')).toBe(version);
    expect(file.metadata.get('llama2c.shared_classifier')).toBe(true);
  });

  test('a file too short for the layout is WEIGHT302 naming the tensor and the range', () => {
    const cut = bytes.subarray(0, bytes.length - 100);
    const layout = llamaLayout(header);
    const err = expectSmeltError(() => layoutLlama2c('/tmp/cut.bin', cut, header, layout),
      'WEIGHT302', '/tmp/cut.bin', `file ends at ${cut.length}`);
    const lastName = version === 0 ? 'skip:freq_cis_imag' : 'blk.4.ffn_up.weight';
    expect(err.message).toContain(lastName);
    const trailing = new Uint8Array(bytes.length + 7);
    trailing.set(bytes);
    expect(layoutLlama2c(path, trailing, header, layout).tensors.size).toBe(47);
  });
});

describe('llama2.c headers', () => {
  const legacy = (c: number[]) => {
    const w = new Bytes();
    for (const v of c) w.i32(v);
    return w.bytes();
  };

  test('a negative vocab_size means an unshared classifier', () => {
    const h = readLlama2cHeader('/tmp/x.bin', legacy([64, 172, 5, 8, 4, -512, 512]));
    expect(h).toMatchObject({ version: 0, vocab_size: 512, shared_classifier: false });
  });

  test('implausible configs are WEIGHT302 naming the field', () => {
    expectSmeltError(() => readLlama2cHeader('/tmp/x.bin', legacy([64, 172, 5, 0, 4, 512, 512])),
      'WEIGHT302', '/tmp/x.bin', 'n_heads is 0');
    expectSmeltError(() => readLlama2cHeader('/tmp/x.bin', legacy([64, 172, 5, 6, 4, 512, 512])),
      'WEIGHT302', '/tmp/x.bin', 'dim 64 is not divisible by n_heads 6');
    expectSmeltError(() => readLlama2cHeader('/tmp/x.bin', legacy([64, 172, 5, 8, 3, 512, 512])),
      'WEIGHT302', 'n_heads 8 is not divisible by n_kv_heads 3');
  });

  test('v1 with another version is WEIGHT303; a short header is WEIGHT302', () => {
    const v2 = new Bytes().u32(0x616b3432).i32(2).pad(256).bytes();
    expectSmeltError(() => readLlama2cHeader('/tmp/q.bin', v2), 'WEIGHT303', '/tmp/q.bin',
      'version 2');
    const { bytes } = storiesBytes('stories260K.v1.bin');
    expectSmeltError(() => readLlama2cHeader('/tmp/s.bin', bytes.subarray(0, 100)), 'WEIGHT302',
      '/tmp/s.bin', 'needs 256 bytes', 'file ends at 100');
    expectSmeltError(() => readLlama2cHeader('/tmp/s.bin', new Uint8Array(20)), 'WEIGHT302',
      '/tmp/s.bin', 'needs 28 bytes', 'file ends at 20');
  });

  test('layout sizes that overflow are WEIGHT302, not a crash', () => {
    const header = readLlama2cHeader('/tmp/h.bin', legacy([2 ** 30, 4, 2 ** 30, 2, 1, 512, 9]));
    const entries = [{ name: 'huge', shape: [header.n_layers, header.dim, header.dim] }];
    expectSmeltError(() => layoutLlama2c('/tmp/h.bin', new Uint8Array(64), header, entries),
      'WEIGHT302', '/tmp/h.bin', 'tensor huge', 'file ends at 64');
  });
});
