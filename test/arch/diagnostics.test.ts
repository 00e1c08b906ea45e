// Bad uses of the family primitives and map keys, and the exact diagnostics they produce.
//
// Each case makes one textual edit to a copy of a spec in specs/ (an architecture and its
// tiny model file), writes them to a scratch folder, then loads the model and builds its
// graph. The scratch folder is stripped from the message.
import { afterAll, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import type { DiagnosticCode } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';
import type { Edit } from '../frontend/edit.js';
import { edit } from '../frontend/edit.js';

const scratch = mkdtempSync(join(tmpdir(), 'smelt-arch-diag-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));


interface Case {
  name: string;
  family: string; // specs/<family>.yaml with specs/tiny/<family>-tiny.yaml
  code: DiagnosticCode;
  arch?: Edit;
  model?: Edit;
  expected: string[];
}

function diagnose(c: Case): string {
  const dir = mkdtempSync(join(scratch, 'case-'));
  mkdirSync(join(dir, 'tiny'));
  const arch = readFileSync(`specs/${c.family}.yaml`, 'utf8');
  const tinyName = c.family === 'llama3' ? 'llama3-tiny-untied' : `${c.family}-tiny`;
  const model = readFileSync(`specs/tiny/${tinyName}.yaml`, 'utf8');
  writeFileSync(join(dir, `${c.family}.yaml`), c.arch ? edit(arch, c.arch) : arch);
  writeFileSync(join(dir, 'tiny', 'model.yaml'), c.model ? edit(model, c.model) : model);
  try {
    specGraph(loadSpec(join(dir, 'tiny', 'model.yaml')));
  } catch (err) {
    expect(err).toBeInstanceOf(SmeltError);
    expect((err as SmeltError).code).toBe(c.code);
    return (err as SmeltError).format().replaceAll(dir + sep, '');
  }
  throw new Error('no error thrown');
}

const CASES: Case[] = [
  {
    name: "layernorm bias of the wrong length",
    family: 'gpt2',
    code: 'SPEC203',
    arch: ["- h = layernorm(x, ln_1, ln_1_bias, eps=norm_eps)",
      "- h = layernorm(x, ln_1, b_qkv, eps=norm_eps)"],
    expected: [
      'gpt2.yaml:52:30: error SPEC203: layernorm: operand `bias` must be f32[32] to ' +
        'match x, got f32[96]',
      ' 52 |     - h = layernorm(x, ln_1, b_qkv, eps=norm_eps)',
      '    |                              ^^^^^',
    ],
  },
  {
    name: "add_bias over the wrong width",
    family: 'gpt2',
    code: 'SPEC203',
    arch: ["- qkv = add_bias(qkv, b_qkv)", "- qkv = add_bias(qkv, b_o)"],
    expected: [
      'gpt2.yaml:54:27: error SPEC203: add_bias: operand `bias` must be f32[96] to ' +
        'match x, got f32[32]',
      ' 54 |     - qkv = add_bias(qkv, b_o)',
      '    |                           ^^^',
    ],
  },
  {
    name: "gelu with an attribute it does not have",
    family: 'gpt2',
    code: 'SPEC207',
    arch: ["- up = gelu(up)", "- up = gelu(up, approximate=1)"],
    expected: [
      'gpt2.yaml:68:21: error SPEC207: gelu has no attribute `approximate` (attributes: none)',
      ' 68 |     - up = gelu(up, approximate=1)',
      '    |                     ^^^^^^^^^^^',
    ],
  },
  {
    name: "pos_embed table of the wrong width",
    family: 'gpt2',
    code: 'SPEC203',
    arch: ["position_embedding: { shape: [seq_len, dim] }",
      "position_embedding: { shape: [seq_len, 2 * dim] }"],
    expected: [
      'gpt2.yaml:48:24: error SPEC203: pos_embed: operand `table` must be an f32 ' +
        'matrix [positions, 32], got f32[64, 64]',
      ' 48 |     - x = pos_embed(x, position_embedding)',
      '    |                        ^^^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: "slice past the end of its operand",
    family: 'gpt2',
    code: 'SPEC203',
    arch: ["- v = slice(qkv, start=2 * dim, size=dim)",
      "- v = slice(qkv, start=3 * dim, size=dim)"],
    expected: [
      'gpt2.yaml:57:17: error SPEC203: slice: start 96 and size 32 do not fit the ' +
        'width of `x` (f32[seq, 96])',
      ' 57 |     - v = slice(qkv, start=3 * dim, size=dim)',
      '    |                 ^^^',
    ],
  },
  {
    name: "slice without a size",
    family: 'gpt2',
    code: 'SPEC207',
    arch: ["- q = slice(qkv, start=0, size=dim)", "- q = slice(qkv, start=0)"],
    expected: [
      'gpt2.yaml:55:11: error SPEC207: slice needs attribute `size`',
      ' 55 |     - q = slice(qkv, start=0)',
      '    |           ^^^^^',
    ],
  },
  {
    name: "transpose of an undeclared weight",
    family: 'gpt2',
    code: 'SPEC205',
    arch: ["transpose: [w_qkv, w_o, w_fc, w_proj]", "transpose: [w_qkvx, w_o, w_fc, w_proj]"],
    expected: [
      'gpt2.yaml:129:17: error SPEC205: `transpose` names `w_qkvx`, which is not a ' +
        'declared weight',
      ' 129 |     transpose: [w_qkvx, w_o, w_fc, w_proj]',
      '     |                 ^^^^^^',
    ],
  },
  {
    name: "scale without its factor",
    family: 'gemma',
    code: 'SPEC207',
    arch: ["- x = scale(x, by=embed_scale)", "- x = scale(x)"],
    expected: [
      'gemma.yaml:50:11: error SPEC207: scale needs attribute `by`',
      ' 50 |     - x = scale(x)',
      '    |           ^^^^^',
    ],
  },
  {
    name: "an unknown function in an expression",
    family: 'gemma',
    code: 'SPEC104',
    arch: ["embed_scale: sqrt(dim)", "embed_scale: cbrt(dim)"],
    expected: [
      'gemma.yaml:23:16: error SPEC104: unknown function `cbrt` (functions: sqrt) in ' +
        'expression `cbrt(dim)`',
      ' 23 |   embed_scale: cbrt(dim)',
      '    |                ^',
    ],
  },
  {
    name: "softcap with a cap of 0",
    family: 'gemma',
    code: 'SPEC203',
    arch: ["- logits = matmul(x, output)",
      "- logits = matmul(x, output)\n    - logits = softcap(logits, cap=0)"],
    expected: [
      'gemma.yaml:76:16: error SPEC203: softcap: cap 0 must be > 0',
      ' 76 |     - logits = softcap(logits, cap=0)',
      '    |                ^^^^^^^',
    ],
  },
  {
    name: "rmsnorm gain_offset that is not a number",
    family: 'gemma',
    code: 'SPEC207',
    arch: ["- h = rmsnorm(x, rms_att, eps=norm_eps, gain_offset=1)",
      "- h = rmsnorm(x, rms_att, eps=norm_eps, gain_offset=true)"],
    expected: [
      'gemma.yaml:54:57: error SPEC207: rmsnorm: attribute `gain_offset` must be a ' +
        'number, got true',
      ' 54 |     - h = rmsnorm(x, rms_att, eps=norm_eps, gain_offset=true)',
      '    |                                                         ^^^^',
    ],
  },
  {
    name: "offset of an undeclared weight",
    family: 'gemma',
    code: 'SPEC205',
    arch: ["offset: { rms_final: 1, rms_att: 1, rms_ffn: 1 }",
      "offset: { rms_final: 1, rms_att: 1, rms_fn: 1 }"],
    expected: [
      'gemma.yaml:107:41: error SPEC205: `offset` names `rms_fn`, which is not a declared weight',
      ' 107 |     offset: { rms_final: 1, rms_att: 1, rms_fn: 1 }',
      '     |                                         ^^^^^^',
    ],
  },
  {
    name: "rope rot_dims that is odd",
    family: 'phi3',
    code: 'SPEC203',
    model: ["rope_dims: 6", "rope_dims: 5"],
    expected: [
      'phi3.yaml:56:11: error SPEC203: rope: rot_dims 5 must be even and between 2 and ' +
        'head_size 8',
      ' 56 |     - q = rope(q, head_size=head_size, theta=rope_theta, neox=true,' +
        ' rot_dims=rope_dims)',
      '    |           ^^^^',
    ],
  },
  {
    name: "attention window of 0",
    family: 'phi3',
    code: 'SPEC203',
    model: ["sliding_window: 4", "sliding_window: 0"],
    expected: [
      'phi3.yaml:60:13: error SPEC203: attention: window 0 must be at least 1 (positions seen)',
      ' 60 |     - att = attention(q, kc, vc, n_heads=n_heads, n_kv_heads=n_kv_heads,' +
        ' window=sliding_window)',
      '    |             ^^^^^^^^^',
    ],
  },
  {
    name: "two RoPE scaling families at once",
    family: 'llama3',
    code: 'SPEC203',
    arch: ['- q = rope(q, head_size=head_size, theta=rope_theta, ',
      '- q = rope(q, head_size=head_size, theta=rope_theta, linear_factor=2, '],
    expected: [
      'llama3.yaml:62:11: error SPEC203: rope: scaling attributes linear_factor and ' +
        'llama3_factor exclude each other',
      ' 62 |     - q = rope(q, head_size=head_size, theta=rope_theta, linear_factor=2,' +
        ' llama3_factor=rope_factor,',
      '    |           ^^^^',
    ],
  },
  {
    name: 'a bad attribute on the continuation line of a statement',
    family: 'llama3',
    code: 'SPEC105',
    arch: ['llama3_orig_ctx=rope_orig_ctx)\n    - k = rope',
      'llama3_orig_ctx=rope_orig)\n    - k = rope'],
    expected: [
      'llama3.yaml:64:25: error SPEC105: unknown parameter `rope_orig` (known: dim, ' +
        'hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, norm_eps, ' +
        'rope_theta, rope_factor, rope_low_freq, rope_high_freq, rope_orig_ctx, ' +
        'tied_output, head_size, kv_dim)',
      ' 64 |         llama3_orig_ctx=rope_orig)',
      '    |                         ^^^^^^^^^',
    ],
  },
  {
    name: 'moe choosing more experts than there are',
    family: 'mixtral',
    code: 'SPEC203',
    model: ['n_experts_used: 2', 'n_experts_used: 5'],
    expected: [
      'mixtral.yaml:72:13: error SPEC203: moe: top_k 5 must be between 1 and the 4 experts',
      ' 72 |     - ffn = moe(h, router, w_gate, w_up, w_down, top_k=n_experts_used)',
      '    |             ^^^',
    ],
  },
  {
    name: 'moe with a down projection of the wrong shape',
    family: 'mixtral',
    code: 'SPEC203',
    arch: ['w_down: { shape: [n_experts, dim, hidden_dim], init: residual }',
      'w_down: { shape: [n_experts, hidden_dim, dim], init: residual }'],
    expected: [
      'mixtral.yaml:72:42: error SPEC203: moe: operand `w_down` must be [4, 32, 24] ' +
        '(experts, out, in), got f32[4, 24, 32]',
      ' 72 |     - ffn = moe(h, router, w_gate, w_up, w_down, top_k=n_experts_used)',
      '    |                                          ^^^^^^',
    ],
  },
];

test.each(CASES.map((c) => [c.name, c] as const))('%s', (_, c) => {
  expect(diagnose(c).split('\n')).toEqual(c.expected);
});
