// GGUF reader: the real stories260K files, then hand-built files covering every value type.
import { describe, expect, test } from '@jest/globals';
import { tensorToF32 } from '../../src/runtime/weights/dequant.js';
import { readGguf } from '../../src/runtime/weights/gguf.js';
import { GT, buildGguf, expectSmeltError, f32Bytes, storiesBytes } from './helpers.js';

const LAYER_TENSORS = [
  'attn_q', 'attn_k', 'attn_v', 'attn_output', 'attn_norm',
  'ffn_gate', 'ffn_down', 'ffn_up', 'ffn_norm',
];

describe('stories260K-f32.gguf', () => {
  const { path, bytes } = storiesBytes('stories260K-f32.gguf');
  const file = readGguf(path, bytes);

  test('metadata', () => {
    const m = file.metadata;
    expect(file.format).toBe('gguf');
    expect(m.get('general.architecture')).toBe('llama');
    expect(m.get('llama.embedding_length')).toBe(64);
    expect(m.get('llama.feed_forward_length')).toBe(172);
    expect(m.get('llama.attention.head_count')).toBe(8);
    expect(m.get('llama.attention.head_count_kv')).toBe(4);
    expect(m.get('llama.block_count')).toBe(5);
    expect(m.get('llama.context_length')).toBe(128);
    expect(m.get('llama.attention.layer_norm_rms_epsilon')).toBe(Math.fround(1e-5));
    expect(m.get('tokenizer.ggml.model')).toBe('llama');
    expect(m.get('tokenizer.ggml.seperator_token_id')).toBe(0xffffffff);
    expect(m.has('general.alignment')).toBe(false);
  });

  test('tokenizer arrays', () => {
    const tokens = file.metadata.get('tokenizer.ggml.tokens') as string[];
    expect(tokens).toHaveLength(512);
    expect(tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    const scores = file.metadata.get('tokenizer.ggml.scores') as number[];
    expect(scores).toHaveLength(512);
    expect(scores.every((s) => typeof s === 'number')).toBe(true);
    const types = file.metadata.get('tokenizer.ggml.token_type') as number[];
    expect(types.slice(0, 4)).toEqual([2, 3, 3, 6]);
  });

  test('48 tensors in converter order, shapes outer → inner', () => {
    expect(file.tensors.size).toBe(48);
    const names = [...file.tensors.keys()];
    expect(names.slice(0, 3)).toEqual(['token_embd.weight', 'output_norm.weight', 'output.weight']);
    expect(names.slice(3, 12)).toEqual(LAYER_TENSORS.map((t) => `blk.0.${t}.weight`));
    const embd = file.tensors.get('token_embd.weight')!;
    expect(embd).toMatchObject({ dtype: 'f32', shape: [512, 64], offset: 14176 });
    expect(embd.byteLength).toBe(512 * 64 * 4);
    expect(file.tensors.get('blk.0.ffn_down.weight')!.shape).toEqual([64, 172]);
    expect(file.tensors.get('blk.4.attn_k.weight')!.shape).toEqual([32, 64]);
    expect(file.tensors.get('output_norm.weight')!.shape).toEqual([64]);
  });

  test('tensors tile the data region without overlap and end at the file end', () => {
    const sorted = [...file.tensors.values()].sort((a, b) => a.offset - b.offset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      expect(sorted[i]!.offset).toBe(Math.ceil((prev.offset + prev.byteLength) / 32) * 32);
    }
    const last = sorted[sorted.length - 1]!;
    expect(last.offset + last.byteLength).toBe(bytes.length);
  });
});

describe.each([
  ['stories260K-q8_0.gguf', 'q8_0', 7],
  ['stories260K-q4_0.gguf', 'q4_0', 2],
])('%s', (name, quant, fileType) => {
  const { path, bytes } = storiesBytes(name);
  const file = readGguf(path, bytes);

  test('metadata and per-tensor types', () => {
    expect(file.metadata.get('general.file_type')).toBe(fileType);
    expect(file.metadata.get('general.quantization_version')).toBe(2);
    expect(file.tensors.size).toBe(48);
    expect(Math.min(...[...file.tensors.values()].map((t) => t.offset))).toBe(14240);
    expect(file.tensors.get('output.weight')!.dtype).toBe('q8_0');
    expect(file.tensors.get('output_norm.weight')!.dtype).toBe('f32');
    for (let l = 0; l < 5; l++) {
      const type = (t: string) => file.tensors.get(`blk.${l}.${t}.weight`)!.dtype;
      expect(type('attn_norm')).toBe('f32');
      expect(type('ffn_norm')).toBe('f32');
      expect(type('ffn_down')).toBe('f16');
      for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up']) {
        expect(type(t)).toBe(quant);
      }
    }
    expect(file.tensors.get('token_embd.weight')).toMatchObject({ dtype: quant, shape: [512, 64] });
  });
});

describe('hand-built GGUF', () => {
  test('every metadata value type, including nested arrays and 64-bit values', () => {
    const big = 2n ** 60n + 1n;
    const bytes = buildGguf({
      kv: [
        ['u8', GT.U8, 250], ['i8', GT.I8, -5 & 0xff], ['u16', GT.U16, 65000],
        ['i16', GT.I16, -300], ['u32', GT.U32, 4e9], ['i32', GT.I32, -2e9],
        ['f32', GT.F32, 0.1], ['f64', GT.F64, 0.1], ['t', GT.BOOL, true], ['f', GT.BOOL, false],
        ['s', GT.STRING, 'héllo ▁'], ['u64', GT.U64, 12345], ['u64big', GT.U64, big],
        ['i64', GT.I64, -42], ['i64big', GT.I64, -big],
        ['arr', GT.ARRAY, { of: GT.I32, items: [1, -2, 3] }],
        ['nested', GT.ARRAY, {
          of: GT.ARRAY,
          items: [{ of: GT.STRING, items: ['a', 'bc'] }, { of: GT.U8, items: [] }],
        }],
      ],
    });
    const m = readGguf('/tmp/values.gguf', bytes).metadata;
    expect(Object.fromEntries(m)).toEqual({
      u8: 250, i8: -5, u16: 65000, i16: -300, u32: 4e9, i32: -2e9,
      f32: Math.fround(0.1), f64: 0.1, t: true, f: false, s: 'héllo ▁',
      u64: 12345, u64big: big, i64: -42, i64big: -big,
      arr: [1, -2, 3], nested: [['a', 'bc'], []],
    });
  });

  test('GGUF v2 reads like v3; custom alignment places the data', () => {
    const data = f32Bytes([1, 2, 3, 4, 5, 6]);
    for (const version of [2, 3]) {
      const bytes = buildGguf({
        version,
        alignment: 64,
        kv: [['general.alignment', GT.U32, 64]],
        tensors: [{ name: 'w', ne: [3, 2], type: 0, data }],
      });
      const file = readGguf('/tmp/a.gguf', bytes);
      const w = file.tensors.get('w')!;
      expect(w.offset % 64).toBe(0);
      expect(w.shape).toEqual([2, 3]);
      expect([...tensorToF32(file, w)]).toEqual([1, 2, 3, 4, 5, 6]);
    }
  });

  test('bf16 and f16 tensors', () => {
    const bf16 = new Uint8Array([0x80, 0x3f, 0x00, 0xc0]); // 1, -2
    const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0x38]); // 1, 0.5
    const bytes = buildGguf({
      tensors: [
        { name: 'b', ne: [2], type: 30, data: bf16 },
        { name: 'h', ne: [2], type: 1, data: f16 },
      ],
    });
    const file = readGguf('/tmp/b.gguf', bytes);
    expect([...tensorToF32(file, file.tensors.get('b')!)]).toEqual([1, -2]);
    expect([...tensorToF32(file, file.tensors.get('h')!)]).toEqual([1, 0.5]);
  });

  test('version 1 and big-endian files are unsupported (WEIGHT303)', () => {
    expectSmeltError(() => readGguf('/tmp/v1.gguf', buildGguf({ version: 1 })), 'WEIGHT303',
      '/tmp/v1.gguf', 'version 1', 'expected version 2 or 3');
    expectSmeltError(() => readGguf('/tmp/be.gguf', buildGguf({ version: 0x03000000 })),
      'WEIGHT303', '/tmp/be.gguf', 'big-endian');
  });
});
