// Bad specs and the exact diagnostics they produce.
//
// Each case makes one textual edit to the frozen fixtures/llama.yaml (an architecture) or
// fixtures/model.yaml (stories260K's numbers, naming llama.yaml), writes both to a scratch
// folder, then loads the model file and builds its graph. The scratch folder is stripped from
// the message, so paths read `llama.yaml:55:21`. Every failure must be a SmeltError.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiagnosticCode } from '../../ir/diagnostics.js';
import { CATALOG, SmeltError } from '../../ir/diagnostics.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';
import type { Edit } from './edit.js';
import { edit } from './edit.js';

const FIXTURES = fileURLToPath(new URL('fixtures/', import.meta.url));
const ARCH = readFileSync(join(FIXTURES, 'llama.yaml'), 'utf8');
const MODEL = readFileSync(join(FIXTURES, 'model.yaml'), 'utf8');

const scratch = mkdtempSync(join(tmpdir(), 'smelt-diag-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Replace the one occurrence of `from` with `to`. */

interface Case {
  name: string;
  code: DiagnosticCode;
  arch?: Edit;
  model?: Edit;
  /** File to load from the scratch folder; `model.yaml` unless set. */
  load?: string;
  /** `format()` output, one entry per line. */
  expected: string[];
}

/** Writes the edited fixtures to a fresh folder; returns the folder. */
function writeCase(c: Pick<Case, 'arch' | 'model'>): string {
  const dir = mkdtempSync(join(scratch, 'case-'));
  writeFileSync(join(dir, 'llama.yaml'), c.arch ? edit(ARCH, c.arch) : ARCH);
  writeFileSync(join(dir, 'model.yaml'), c.model ? edit(MODEL, c.model) : MODEL);
  return dir;
}

/** Writes the edited fixtures to a fresh folder, loads and builds; returns what was thrown. */
function diagnose(c: Pick<Case, 'arch' | 'model' | 'load'>): { err: SmeltError; text: string } {
  const dir = writeCase(c);
  try {
    specGraph(loadSpec(join(dir, c.load ?? 'model.yaml')));
  } catch (err) {
    expect(err).toBeInstanceOf(SmeltError);
    const e = err as SmeltError;
    return { err: e, text: e.format().replaceAll(dir + sep, '').replaceAll(dir, '.') };
  }
  throw new Error('no error thrown');
}

const CASES: Case[] = [
  // SPEC1xx: the file's syntax and structure
  {
    name: 'YAML syntax error',
    code: 'SPEC100',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [dim, dim }'],
    expected: [
      'llama.yaml:32:26: error SPEC100: Flow sequence in block collection must be sufficiently ' +
        'indented and end with a ]',
      ' 32 |   wq: { shape: [dim, dim }',
      '    |                          ^',
    ],
  },
  {
    name: 'missing field',
    code: 'SPEC101',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { init: normal }'],
    expected: [
      'llama.yaml:32:7: error SPEC101: weight `wq` needs a `shape` field',
      ' 32 |   wq: { init: normal }',
      '    |       ^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'missing required param in a model file, at its `params` key',
    code: 'SPEC101',
    model: ['  dim: 64\n', ''],
    expected: [
      'model.yaml:4:1: error SPEC101: `params` does not set required param `dim`, which has no ' +
        'default',
      ' 4 | params:',
      '   | ^^^^^^',
    ],
  },
  {
    // The location is the whole multi-line mapping: the caret stops at the end of its line.
    name: 'missing field of a block mapping',
    code: 'SPEC101',
    arch: ['wq: { shape: [dim, dim] }', 'wq:\n    init: normal\n    tied_to: rms_att'],
    expected: [
      'llama.yaml:33:5: error SPEC101: weight `wq` needs a `shape` field',
      ' 33 |     init: normal',
      '    |     ^^^^^^^^^^^^',
    ],
  },
  {
    name: 'missing field, with "an" before a vowel',
    code: 'SPEC101',
    arch: ['  outputs: [logits]\n', ''],
    expected: [
      'llama.yaml:47:3: error SPEC101: `graph` needs an `outputs` field',
      ' 47 |   inputs:',
      '    |   ^^^^^^^',
    ],
  },
  {
    name: '`when` without `tied_to`',
    code: 'SPEC101',
    arch: ['rms_final: { shape: [dim], init: ones }',
      'rms_final: { shape: [dim], init: ones, when: tied_output }'],
    expected: [
      'llama.yaml:26:42: error SPEC101: weight `rms_final` has a `when` but no `tied_to`: ' +
        '`when` says when a tie holds',
      ' 26 |   rms_final: { shape: [dim], init: ones, when: tied_output }',
      '    |                                          ^^^^',
    ],
  },
  {
    name: 'an architecture run without numbers',
    code: 'SPEC101',
    load: 'llama.yaml',
    expected: [
      'llama.yaml:8:3: error SPEC101: param `dim` has no value: an architecture file holds no ' +
        'numbers; run a model file that names it, pass `--weights` with a GGUF or llama2.c ' +
        'file, whose metadata gives them, or set it with --param dim=...',
      ' 8 |   dim: int            # width of the residual stream',
      '   |   ^^^',
    ],
  },
  {
    name: 'wrong field type',
    code: 'SPEC102',
    arch: ['wo: { shape: [dim, dim], init: residual }', 'wo: { shape: [dim, dim], init: random }'],
    expected: [
      'llama.yaml:35:34: error SPEC102: init of weight `wo` must be one of normal, residual, ' +
        'ones, zeros, got random',
      ' 35 |   wo: { shape: [dim, dim], init: random }',
      '    |                                  ^^^^^^',
    ],
  },
  {
    name: 'param of the wrong type in a model file',
    code: 'SPEC102',
    model: ['n_heads: 8', 'n_heads: eight'],
    expected: [
      'model.yaml:8:3: error SPEC102: param `n_heads` must be an int, got "eight"',
      ' 8 |   n_heads: eight',
      '   |   ^^^^^^^',
    ],
  },
  {
    // `512` is an integer literal, so the default declares an int
    name: 'an int param (declared by an integer default) set to a fraction',
    code: 'SPEC102',
    arch: ['seq_len: int ', 'seq_len: 512 '],
    model: ['seq_len: 512', 'seq_len: 512.5'],
    expected: [
      'model.yaml:11:3: error SPEC102: param `seq_len` must be an int, got 512.5',
      ' 11 |   seq_len: 512.5',
      '    |   ^^^^^^^',
    ],
  },
  {
    name: '`when` that is not a bool',
    code: 'SPEC102',
    arch: ['when: tied_output', 'when: n_heads / 2'],
    expected: [
      'llama.yaml:27:71: error SPEC102: `when` of weight `output` must be a bool, got 4',
      ' 27 |   output: { shape: [vocab_size, dim], tied_to: token_embedding, when: n_heads / 2 }',
      '    |                                                                       ^^^^^^^^^^^',
    ],
  },
  {
    name: 'a declared name that is not an identifier',
    code: 'SPEC102',
    arch: ['  wq: { shape: [dim, dim] }', '  w.q: { shape: [dim, dim] }'],
    expected: [
      'llama.yaml:32:3: error SPEC102: layer weight name `w.q` must be an identifier (letters, ' +
        'digits and `_`)',
      ' 32 |   w.q: { shape: [dim, dim] }',
      '    |   ^^^',
    ],
  },
  {
    name: 'a llama2.c header with the wrong number of fields',
    code: 'SPEC102',
    arch: ['vocab_size, seq_len]', 'vocab_size]'],
    expected: [
      'llama.yaml:122:13: error SPEC102: `formats.llama2c.header` must name the 7 int32 ' +
        'fields of the header, got 6',
      ' 122 |     header: [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size]',
      '     |             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'unknown field',
    code: 'SPEC103',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [dim, dim], inti: normal }'],
    expected: [
      'llama.yaml:32:28: error SPEC103: unknown field `inti` in weight `wq` ' +
        '(expected `shape`, `init`, `tied_to`, `when`)',
      ' 32 |   wq: { shape: [dim, dim], inti: normal }',
      '    |                            ^^^^',
    ],
  },
  {
    name: 'bad expression',
    code: 'SPEC104',
    arch: ['head_size: dim / n_heads', 'head_size: dim // n_heads'],
    expected: [
      'llama.yaml:20:19: error SPEC104: unexpected `/` in expression `dim // n_heads`',
      ' 20 |   head_size: dim // n_heads',
      '    |                   ^',
    ],
  },
  {
    name: 'division by zero names the divisor',
    code: 'SPEC104',
    arch: ['head_size: dim / n_heads', 'head_size: dim / (n_heads - 8)'],
    expected: [
      'llama.yaml:20:21: error SPEC104: division by zero: the divisor `n_heads - 8` is 0',
      ' 20 |   head_size: dim / (n_heads - 8)',
      '    |                     ^^^^^^^^^^^',
    ],
  },
  {
    name: 'statement syntax error: empty operand',
    code: 'SPEC104',
    arch: ['- q = matmul(h, wq)', '- q = matmul(h, wq,)'],
    expected: [
      'llama.yaml:55:23: error SPEC104: empty operand: a stray `,`',
      ' 55 |     - q = matmul(h, wq,)',
      '    |                       ^',
    ],
  },
  {
    name: 'statement syntax error: missing `=`',
    code: 'SPEC104',
    arch: ['- q = matmul(h, wq)', '- q matmul(h, wq)'],
    expected: [
      'llama.yaml:55:7: error SPEC104: expected `name = op(operand, ..., attr=value)`, ' +
        'got `q matmul(h, wq)`',
      ' 55 |     - q matmul(h, wq)',
      '    |       ^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'statement syntax error: missing comma',
    code: 'SPEC104',
    arch: ['- q = matmul(h, wq)', '- q = matmul(h wq)'],
    expected: [
      'llama.yaml:55:18: error SPEC104: operand `h wq` is not a value name',
      ' 55 |     - q = matmul(h wq)',
      '    |                  ^^^^',
    ],
  },
  {
    name: 'unknown parameter in a shape',
    code: 'SPEC105',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [dim, model_dim] }'],
    expected: [
      'llama.yaml:32:22: error SPEC105: unknown parameter `model_dim` (known: dim, hidden_dim, ' +
        'n_layers, n_heads, n_kv_heads, vocab_size, seq_len, norm_eps, rope_theta, tied_output, ' +
        'head_size, kv_dim)',
      ' 32 |   wq: { shape: [dim, model_dim] }',
      '    |                      ^^^^^^^^^',
    ],
  },
  {
    name: 'unknown parameter in a model file',
    code: 'SPEC105',
    model: ['  dim: 64', '  dims: 64'],
    expected: [
      'model.yaml:5:3: error SPEC105: unknown parameter `dims` for architecture llama (known: ' +
        'dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, norm_eps, ' +
        'rope_theta, tied_output)',
      ' 5 |   dims: 64',
      '   |   ^^^^',
    ],
  },
  {
    name: 'a GGUF param key that is not a declared param',
    code: 'SPEC105',
    arch: ['rope_theta: llama.rope.freq_base', 'rope_base: llama.rope.freq_base'],
    expected: [
      'llama.yaml:90:7: error SPEC105: `formats.gguf.params` names `rope_base`, which is not a ' +
        'declared param (params: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, ' +
        'seq_len, norm_eps, rope_theta, tied_output)',
      ' 90 |       rope_base: llama.rope.freq_base',
      '    |       ^^^^^^^^^',
    ],
  },
  {
    name: 'a llama2.c header name that is not a declared param',
    code: 'SPEC105',
    arch: ['vocab_size, seq_len]', 'vocab_size, seq_length]'],
    expected: [
      'llama.yaml:122:74: error SPEC105: `formats.llama2c.header` names `seq_length`, which is ' +
        'not a declared param (params: dim, hidden_dim, n_layers, n_heads, n_kv_heads, ' +
        'vocab_size, seq_len, norm_eps, rope_theta, tied_output)',
      ' 122 |     header: [dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_length]',
      '     |                                                                          ^^^^^^^^^^',
    ],
  },
  {
    name: 'an unknown name in a llama2.c skip, found when the graph is built',
    code: 'SPEC105',
    arch: ['{ skip: [seq_len, head_size / 2] }   # obsolete RoPE table (real part)',
      '{ skip: [seq_len, head_siz / 2] }'],
    expected: [
      'llama.yaml:136:27: error SPEC105: unknown parameter `head_siz` (known: dim, hidden_dim, ' +
        'n_layers, n_heads, n_kv_heads, vocab_size, seq_len, norm_eps, rope_theta, tied_output, ' +
        'head_size, kv_dim)',
      ' 136 |       - { skip: [seq_len, head_siz / 2] }',
      '     |                           ^^^^^^^^',
    ],
  },
  {
    name: 'non-existent architecture file',
    code: 'SPEC106',
    model: ['architecture: llama.yaml', 'architecture: lama.yaml'],
    expected: [
      'model.yaml:3:15: error SPEC106: architecture file lama.yaml not found',
      ' 3 | architecture: lama.yaml',
      '   |               ^^^^^^^^^',
    ],
  },
  {
    name: 'architecture that is a directory',
    code: 'SPEC106',
    model: ['architecture: llama.yaml', 'architecture: .'],
    expected: [
      'model.yaml:3:15: error SPEC106: architecture file . is a directory, not a YAML file',
      ' 3 | architecture: .',
      '   |               ^',
    ],
  },
  {
    name: 'non-existent spec file',
    code: 'SPEC106',
    load: 'nope.yaml',
    expected: ['error SPEC106: spec file nope.yaml not found'],
  },

  // SPEC2xx: the graph
  {
    name: 'unknown op',
    code: 'SPEC201',
    arch: ['- gate = silu(gate)', '- gate = swish(gate)'],
    expected: [
      'llama.yaml:69:14: error SPEC201: unknown op `swish` (known ops: embed, rmsnorm, matmul, ' +
        'rope, kv_write, attention, silu, mul, add, layernorm, add_bias, gelu, pos_embed, ' +
        'slice, scale, softcap, moe, rms_matmul, matmul_add, swiglu_matmul, matmul_bias, ' +
        'matmul_bias_add, rms_matmul_bias, rope_table, rms_matmul_rope, rms_matmul_bias_rope, ' +
        'attention_kv)',
      ' 69 |     - gate = swish(gate)',
      '    |              ^^^^^',
    ],
  },
  {
    name: 'a fused op tells its own operand names',
    code: 'SPEC203',
    arch: ['- q = matmul(h, wq)', '- q = rms_matmul(x, wk, wq, eps=norm_eps)'],
    expected: [
      'llama.yaml:55:25: error SPEC203: rms_matmul: operand `gain` must be f32[64] to match x, ' +
        'got f32[32, 64]',
      ' 55 |     - q = rms_matmul(x, wk, wq, eps=norm_eps)',
      '    |                         ^^',
    ],
  },
  {
    name: 'a cache operand that is not a kv_write',
    code: 'SPEC203',
    arch: ['- att = attention(q, kc, vc,', '- att = attention(q, k, vc,'],
    expected: [
      'llama.yaml:62:26: error SPEC203: attention: operand `k_cache` must be the result of a ' +
        'kv_write, got a rope `k`',
      ' 62 |     - att = attention(q, k, vc, n_heads=n_heads, n_kv_heads=n_kv_heads)',
      '    |                          ^',
    ],
  },
  {
    name: 'one state as both K and V cache',
    code: 'SPEC203',
    arch: ['- vc = kv_write(v_cache, v)', '- vc = kv_write(k_cache, v)'],
    expected: [
      'llama.yaml:62:30: error SPEC203: attention: state `layers.0.k_cache` is already the K ' +
        'cache of an attention; one state cannot hold both keys and values',
      ' 62 |     - att = attention(q, kc, vc, n_heads=n_heads, n_kv_heads=n_kv_heads)',
      '    |                              ^^',
    ],
  },
  {
    name: 'wrong arity',
    code: 'SPEC202',
    arch: ['- o = matmul(att, wo)', '- o = matmul(att)'],
    expected: [
      'llama.yaml:63:11: error SPEC202: matmul takes 2 operands (x, w), got 1',
      ' 63 |     - o = matmul(att)',
      '    |           ^^^^^^',
    ],
  },
  {
    name: 'shape mismatch: wk declared [dim, dim] where kv_dim rows are needed',
    code: 'SPEC203',
    arch: ['wk: { shape: [kv_dim, dim] }', 'wk: { shape: [dim, dim] }'],
    expected: [
      'llama.yaml:60:30: error SPEC203: kv_write: operand `x` must be [seq, 32] to match the ' +
        'cache, got f32[seq, 64]',
      ' 60 |     - kc = kv_write(k_cache, k)',
      '    |                              ^',
    ],
  },
  {
    name: 'shape mismatch: kv_write of a vector blames `x`, not the cache',
    code: 'SPEC203',
    arch: ['- kc = kv_write(k_cache, k)', '- kc = kv_write(k_cache, tokens)'],
    expected: [
      'llama.yaml:60:30: error SPEC203: kv_write: operand `x` must be an f32 matrix [seq, 32], ' +
        'got i32[seq]',
      ' 60 |     - kc = kv_write(k_cache, tokens)',
      '    |                              ^^^^^^',
    ],
  },
  {
    name: 'shape mismatch: a tied weight and its target',
    code: 'SPEC203',
    arch: ['output: { shape: [vocab_size, dim]', 'output: { shape: [dim, vocab_size]'],
    expected: [
      'llama.yaml:27:3: error SPEC203: weight `output` is declared [64, 512], but it is tied to ' +
        '`token_embedding`, which is [512, 64]',
      ' 27 |   output: { shape: [dim, vocab_size], tied_to: token_embedding, when: tied_output }',
      '    |   ^^^^^^',
    ],
  },
  {
    name: 'shape mismatch: matmul widths disagree',
    code: 'SPEC203',
    arch: ['w2: { shape: [dim, hidden_dim]', 'w2: { shape: [dim, dim]'],
    expected: [
      'llama.yaml:71:26: error SPEC203: matmul: operand `w` must be a matrix [out, 172] ' +
        '(x is [seq, 172]), got f32[64, 64]',
      ' 71 |     - down = matmul(ffn, w2)',
      '    |                          ^^',
    ],
  },
  {
    // The caret covers the whole binary expression.
    name: 'dimension that is not a whole number',
    code: 'SPEC204',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [dim, dim / 3] }'],
    expected: [
      'llama.yaml:32:22: error SPEC204: dimension `dim / 3` evaluates to 21.333333333333332, ' +
        'not a positive whole number',
      ' 32 |   wq: { shape: [dim, dim / 3] }',
      '    |                      ^^^^^^^',
    ],
  },
  {
    name: 'per-step dimension in a weight',
    code: 'SPEC204',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [seq, dim] }'],
    expected: [
      'llama.yaml:32:17: error SPEC204: weight `wq` cannot have the per-step dimension `seq`',
      ' 32 |   wq: { shape: [seq, dim] }',
      '    |                 ^^^',
    ],
  },
  {
    name: 'unknown operand name',
    code: 'SPEC205',
    arch: ['- q = matmul(h, wq)', '- q = matmul(h, w_q)'],
    expected: [
      'llama.yaml:55:21: error SPEC205: matmul: operand `w_q` is not defined (in scope: h, ' +
        'k_cache, output, rms_att, w1, w2, w3, wk, wo, wq, wv, x, and 5 more)',
      ' 55 |     - q = matmul(h, w_q)',
      '    |                     ^^^',
    ],
  },
  {
    name: 'a layer state named like a layer weight',
    code: 'SPEC205',
    arch: ['  k_cache: [seq_len, kv_dim]', '  wk: [seq_len, kv_dim]'],
    expected: [
      'llama.yaml:43:3: error SPEC205: `wk` is declared twice: as a layer weight (line 33) and ' +
        'as a layer state',
      ' 43 |   wk: [seq_len, kv_dim]',
      '    |   ^^',
    ],
  },
  {
    name: 'an input named like a weight',
    code: 'SPEC205',
    arch: ['    tokens: [seq]', '    output: [seq]'],
    expected: [
      'llama.yaml:48:5: error SPEC205: `output` is declared twice: as a weight (line 27) and as ' +
        'an input',
      ' 48 |     output: [seq]',
      '    |     ^^^^^^',
    ],
  },
  {
    name: 'a derived value named like a param',
    code: 'SPEC205',
    arch: ['  kv_dim: n_kv_heads * head_size', '  dim: n_kv_heads * head_size'],
    expected: [
      'llama.yaml:21:3: error SPEC205: `dim` is declared twice: as a param (line 8) and as a ' +
        'derived value',
      ' 21 |   dim: n_kv_heads * head_size',
      '    |   ^^^',
    ],
  },
  {
    // The prologue runs before any layer, yet it may not assign a layer weight's name either.
    name: 'assignment to a layer weight in the prologue',
    code: 'SPEC205',
    arch: ['- x = embed(token_embedding, tokens)', '- wq = embed(token_embedding, tokens)'],
    expected: [
      'llama.yaml:50:7: error SPEC205: `wq` is a layer weight (line 32) and cannot be assigned',
      ' 50 |     - wq = embed(token_embedding, tokens)',
      '    |       ^^',
    ],
  },
  {
    name: 'a tie to a weight that is not declared before it',
    code: 'SPEC205',
    arch: ['tied_to: token_embedding', 'tied_to: tokens'],
    expected: [
      'llama.yaml:27:48: error SPEC205: `output` is tied to `tokens`, which is not a weight ' +
        'declared before it in `weights`',
      ' 27 |   output: { shape: [vocab_size, dim], tied_to: tokens, when: tied_output }',
      '    |                                                ^^^^^^',
    ],
  },
  {
    name: 'output that is never assigned',
    code: 'SPEC205',
    arch: ['outputs: [logits]', 'outputs: [logit]'],
    expected: [
      'llama.yaml:76:13: error SPEC205: output `logit` is never assigned',
      ' 76 |   outputs: [logit]',
      '    |             ^^^^^',
    ],
  },
  {
    name: 'missing weight mapping, at the section key',
    code: 'SPEC206',
    arch: ['      wv: blk.{layer}.attn_v.weight\n', ''],
    expected: [
      'llama.yaml:95:5: error SPEC206: `formats.gguf.layer_weights` has no entry for weight `wv`',
      ' 95 |     layer_weights:',
      '    |     ^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'missing llama2.c weight, at the order key',
    code: 'SPEC206',
    arch: ['      - layers.wv\n      - layers.wo\n      - layers.rms_ffn',
      '      - layers.wo\n      - layers.rms_ffn'],
    expected: [
      'llama.yaml:124:5: error SPEC206: `formats.llama2c.legacy` does not list weight `layers.wv`',
      ' 124 |     legacy:',
      '     |     ^^^^^^',
    ],
  },
  {
    name: 'unknown attribute',
    code: 'SPEC207',
    arch: ['- h = rmsnorm(x, rms_att, eps=norm_eps)',
      '- h = rmsnorm(x, rms_att, epsilon=norm_eps)'],
    expected: [
      'llama.yaml:54:31: error SPEC207: rmsnorm has no attribute `epsilon` (attributes: eps, ' +
        'gain_offset)',
      ' 54 |     - h = rmsnorm(x, rms_att, epsilon=norm_eps)',
      '    |                               ^^^^^^^',
    ],
  },
  {
    name: 'missing attribute',
    code: 'SPEC207',
    arch: ['- q = rope(q, head_size=head_size, theta=rope_theta)',
      '- q = rope(q, head_size=head_size)'],
    expected: [
      'llama.yaml:58:11: error SPEC207: rope needs attribute `theta`',
      ' 58 |     - q = rope(q, head_size=head_size)',
      '    |           ^^^^',
    ],
  },
  {
    name: 'attribute of the wrong type',
    code: 'SPEC207',
    arch: ['- q = rope(q, head_size=head_size, theta=rope_theta)',
      '- q = rope(q, head_size=2.5, theta=rope_theta)'],
    expected: [
      'llama.yaml:58:29: error SPEC207: rope: attribute `head_size` must be an int, got 2.5',
      ' 58 |     - q = rope(q, head_size=2.5, theta=rope_theta)',
      '    |                             ^^^',
    ],
  },
  {
    name: 'zero layers',
    code: 'SPEC204',
    model: ['n_layers: 5', 'n_layers: 0'],
    expected: [
      'llama.yaml:51:11: error SPEC204: `graph.layers` (`n_layers`) must be a whole ' +
        'number ≥ 1, got 0',
      ' 51 |   layers: n_layers   # `layer` repeats this many times',
      '    |           ^^^^^^^^',
    ],
  },
  {
    name: 'a non-finite number param (norm_eps: .nan)',
    code: 'SPEC102',
    model: ['norm_eps: 1.0e-5', 'norm_eps: .nan'],
    expected: [
      'model.yaml:12:3: error SPEC102: param `norm_eps` must be finite, got NaN',
      ' 12 |   norm_eps: .nan',
      '    |   ^^^^^^^^',
    ],
  },
  {
    name: 'a negative eps',
    code: 'SPEC207',
    model: ['norm_eps: 1.0e-5', 'norm_eps: -1.0e-5'],
    expected: [
      'llama.yaml:54:35: error SPEC207: rmsnorm: attribute `eps` must be greater than 0, ' +
        'got -0.00001',
      ' 54 |     - h = rmsnorm(x, rms_att, eps=norm_eps)',
      '    |                                   ^^^^^^^^',
    ],
  },
  {
    name: 'layer weight tensor name without `{layer}`',
    code: 'SPEC208',
    arch: ['wq: model.layers.{layer}.self_attn.q_proj.weight',
      'wq: model.layers.0.self_attn.q_proj.weight'],
    expected: [
      'llama.yaml:112:11: error SPEC208: tensor name `model.layers.0.self_attn.q_proj.weight` in ' +
        '`formats.safetensors.layer_weights` has no `{layer}`, so every layer would read the ' +
        'same tensor',
      ' 112 |       wq: model.layers.0.self_attn.q_proj.weight',
      '     |           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'model weight tensor name with `{layer}`',
    code: 'SPEC208',
    arch: ['token_embedding: token_embd.weight', 'token_embedding: token_embd.{layer}.weight'],
    expected: [
      'llama.yaml:92:24: error SPEC208: tensor name `token_embd.{layer}.weight` in ' +
        '`formats.gguf.weights` has a `{layer}`, but model weights are not per layer',
      ' 92 |       token_embedding: token_embd.{layer}.weight',
      '    |                        ^^^^^^^^^^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'tensor name with an unknown placeholder',
    code: 'SPEC208',
    arch: ['wk: blk.{layer}.attn_k.weight', 'wk: blk.{layers}.attn_k.weight'],
    expected: [
      'llama.yaml:98:11: error SPEC208: tensor name `blk.{layers}.attn_k.weight` in ' +
        '`formats.gguf.layer_weights` has a placeholder other than `{layer}` and `{expert}`',
      ' 98 |       wk: blk.{layers}.attn_k.weight',
      '    |           ^^^^^^^^^^^^^^^^^^^^^^^^^^',
    ],
  },
  {
    name: 'an unknown quantization policy',
    code: 'SPEC107',
    model: ['  tied_output: true', '  tied_output: true\nquant:\n  policy: q3_k'],
    expected: [
      'model.yaml:16:11: error SPEC107: `quant.policy` must be one of f32, f16, q8_0, q4_0, ' +
        'mixed, got `q3_k`',
      ' 16 |   policy: q3_k',
      '    |           ^^^^',
    ],
  },
  {
    name: 'a per-weight encoding that is not a weight dtype',
    code: 'SPEC107',
    model: ['  tied_output: true', '  tied_output: true\nquant:\n  weights: { w2: mixed }'],
    expected: [
      'model.yaml:16:18: error SPEC107: the encoding of weight `w2` must be one of f32, f16, ' +
        'q8_0, q4_0, got `mixed`',
      ' 16 |   weights: { w2: mixed }',
      '    |                  ^^^^^',
    ],
  },
  {
    name: 'a per-weight encoding for a weight the architecture does not declare',
    code: 'SPEC107',
    model: ['  tied_output: true', '  tied_output: true\nquant:\n  weights:\n    w_down: q8_0'],
    expected: [
      'model.yaml:17:5: error SPEC107: `quant.weights` names `w_down`, which architecture ' +
        'llama does not declare (weights: token_embedding, rms_final, output, rms_att, wq, ' +
        'wk, wv, wo, rms_ffn, w1, w2, w3)',
      ' 17 |     w_down: q8_0',
      '    |     ^^^^^^',
    ],
  },
];

describe('spec diagnostics', () => {
  test('the unedited fixtures build', () => {
    const model = specGraph(loadSpec(join(FIXTURES, 'model.yaml')));
    expect(model.graph.outputs).toHaveLength(1);
  });

  test.each(CASES)('$code: $name', (c) => {
    const { err, text } = diagnose(c);
    expect(err.code).toBe(c.code);
    expect(text).toBe(c.expected.join('\n'));
  });

  test('every code of the SPEC catalog has a case', () => {
    const covered = new Set(CASES.map((c) => c.code));
    const spec = (Object.keys(CATALOG) as DiagnosticCode[]).filter((c) => c.startsWith('SPEC'));
    expect(spec.filter((c) => !covered.has(c))).toEqual([]);
    expect(CATALOG.SPEC204).toBe('bad dimension');
  });
});

describe('edits that must build', () => {
  const load = (c: Pick<Case, 'arch' | 'model'>) => loadSpec(join(writeCase(c), 'model.yaml'));
  const typeOf = (c: Pick<Case, 'arch' | 'model'>, name: string) =>
    load(c).arch.params.find((p) => p.name === name)?.type;

  test('a default written with a fraction or an exponent declares a number', () => {
    expect(typeOf({}, 'rope_theta')).toBe('number'); // rope_theta: 10000.0
    expect(typeOf({ arch: ['norm_eps: 1.0e-5', 'norm_eps: 1e-5'] }, 'norm_eps')).toBe('number');
    expect(typeOf({ arch: ['seq_len: int ', 'seq_len: 512 '] }, 'seq_len')).toBe('int');
  });

  test('a number param accepts an integer literal and a fraction', () => {
    for (const to of ['rope_theta: 10000', 'rope_theta: 10000.5']) {
      const model = specGraph(load({ model: ['rope_theta: 10000.0', to] }));
      expect(model.env.get('rope_theta')).toBe(Number(to.split(': ')[1]));
    }
  });

  test('a model file names its architecture relative to its own folder, as written', () => {
    const rel = relative(process.cwd(), join(FIXTURES, 'model.yaml'));
    expect(loadSpec(rel).arch.file).toBe(join(dirname(rel), 'llama.yaml'));
  });
});

describe('numbers from a weight file', () => {
  test('a param the weight file does not give is WEIGHT307 naming the file', () => {
    const spec = loadSpec(join(FIXTURES, 'llama.yaml'));
    const given = new Map([['dim', { value: 64 }]]);
    let thrown: unknown;
    try {
      specGraph(spec, given, 'GGUF metadata of x.gguf');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SmeltError);
    expect((thrown as SmeltError).format()).toBe(
      'error WEIGHT307: GGUF metadata of x.gguf does not set required param `hidden_dim`');
  });
});

describe('SmeltError.format', () => {
  const source = 'first line\nshort\nthird line\n';
  const at = (col: number, length: number) =>
    new SmeltError('SPEC101', 'detail', { file: 'f.yaml', line: 2, col, length, source }).format();

  test('the caret stops at the end of the line', () => {
    expect(at(2, 500)).toBe('f.yaml:2:2: error SPEC101: detail\n 2 | short\n   |  ^^^^');
  });

  test('the caret is at least one column, even past the end of the line', () => {
    expect(at(6, 3)).toBe('f.yaml:2:6: error SPEC101: detail\n 2 | short\n   |      ^');
  });
});

describe('a damaged spec fails with a SmeltError, never a raw exception', () => {
  /** Loads and builds; returns what was thrown when it is not a SmeltError. */
  function rawThrow(arch: string, model: string): string | undefined {
    const dir = mkdtempSync(join(scratch, 'damaged-'));
    writeFileSync(join(dir, 'llama.yaml'), arch);
    writeFileSync(join(dir, 'model.yaml'), model);
    try {
      specGraph(loadSpec(join(dir, 'model.yaml')));
    } catch (err) {
      if (!(err instanceof SmeltError)) return String(err);
    }
    return undefined;
  }

  /** Every variant of `text` that `damage` makes, one per line number, that throws raw. */
  function rawThrows(text: string, damage: (lines: string[], i: number) => string[],
    load: (damaged: string) => string | undefined): string[] {
    const lines = text.split('\n');
    return lines.flatMap((_, i) => {
      const raw = load(damage(lines, i).join('\n'));
      return raw === undefined ? [] : [`line ${i + 1}: ${raw}`];
    });
  }

  const drop = (lines: string[], i: number) => lines.filter((_, j) => j !== i);
  const cut = (lines: string[], i: number) => lines.slice(0, i);
  const unvalue = (lines: string[], i: number) =>
    lines.map((l, j) => (j === i ? l.replace(/:\s.*$/, ':') : l));

  test('architecture with one line dropped', () => {
    expect(rawThrows(ARCH, drop, (a) => rawThrow(a, MODEL))).toEqual([]);
  });

  test('architecture cut short', () => {
    expect(rawThrows(ARCH, cut, (a) => rawThrow(a, MODEL))).toEqual([]);
  });

  test('architecture with one value emptied', () => {
    expect(rawThrows(ARCH, unvalue, (a) => rawThrow(a, MODEL))).toEqual([]);
  });

  test('model file with one line dropped or one value emptied', () => {
    expect(rawThrows(MODEL, drop, (m) => rawThrow(ARCH, m))).toEqual([]);
    expect(rawThrows(MODEL, unvalue, (m) => rawThrow(ARCH, m))).toEqual([]);
  });
});
