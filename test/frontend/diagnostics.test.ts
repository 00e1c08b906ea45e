// Bad specs and the exact diagnostics they produce.
//
// Each case makes one textual edit to the frozen fixtures/llama.yaml (an architecture) or
// fixtures/model.yaml (stories260K's numbers, naming llama.yaml), writes both to a scratch
// folder, then loads the model file and builds its graph. The scratch folder is stripped from
// the message, so paths read `llama.yaml:55:21`. Every failure must be a SmeltError.
import { afterAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DiagnosticCode } from '../../ir/diagnostics.js';
import { CATALOG, SmeltError } from '../../ir/diagnostics.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';

const FIXTURES = fileURLToPath(new URL('fixtures/', import.meta.url));
const ARCH = readFileSync(join(FIXTURES, 'llama.yaml'), 'utf8');
const MODEL = readFileSync(join(FIXTURES, 'model.yaml'), 'utf8');

const scratch = mkdtempSync(join(tmpdir(), 'smelt-diag-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Replace the one occurrence of `from` with `to`. */
type Edit = [from: string, to: string];

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

function edit(text: string, [from, to]: Edit): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`edit needs exactly one occurrence of ${JSON.stringify(from)}`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Writes the edited fixtures to a fresh folder, loads and builds; returns what was thrown. */
function diagnose(c: Pick<Case, 'arch' | 'model' | 'load'>): { err: SmeltError; text: string } {
  const dir = mkdtempSync(join(scratch, 'case-'));
  writeFileSync(join(dir, 'llama.yaml'), c.arch ? edit(ARCH, c.arch) : ARCH);
  writeFileSync(join(dir, 'model.yaml'), c.model ? edit(MODEL, c.model) : MODEL);
  try {
    specGraph(loadSpec(join(dir, c.load ?? 'model.yaml')));
  } catch (err) {
    expect(err).toBeInstanceOf(SmeltError);
    const e = err as SmeltError;
    return { err: e, text: e.format().replaceAll(dir + sep, '') };
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
    // The location is the whole model file, so the caret runs past the line (see report).
    name: 'missing required param in a model file',
    code: 'SPEC101',
    model: ['  dim: 64\n', ''],
    expected: [
      'model.yaml:2:1: error SPEC101: model file model.yaml does not set required param `dim`',
      ' 2 | model: stories260k',
      '   | ' + '^'.repeat(207),
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
    name: 'non-existent spec file',
    code: 'SPEC106',
    load: 'nope.yaml',
    expected: ['error SPEC106: cannot read spec nope.yaml: no such file'],
  },

  // SPEC2xx: the graph
  {
    name: 'unknown op',
    code: 'SPEC201',
    arch: ['- gate = silu(gate)', '- gate = swish(gate)'],
    expected: [
      'llama.yaml:69:14: error SPEC201: unknown op `swish` (known ops: embed, rmsnorm, matmul, ' +
        'rope, kv_write, attention, silu, mul, add)',
      ' 69 |     - gate = swish(gate)',
      '    |              ^^^^^',
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
    // The caret covers only `dim`: a binary expression is located at its left operand.
    name: 'dimension that is not a whole number',
    code: 'SPEC204',
    arch: ['wq: { shape: [dim, dim] }', 'wq: { shape: [dim, dim / 3] }'],
    expected: [
      'llama.yaml:32:22: error SPEC204: dimension `dim / 3` evaluates to 21.333333333333332, ' +
        'not a positive whole number',
      ' 32 |   wq: { shape: [dim, dim / 3] }',
      '    |                      ^^^',
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
      'llama.yaml:55:21: error SPEC205: matmul: operand `w_q` is not defined',
      ' 55 |     - q = matmul(h, w_q)',
      '    |                     ^^^',
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
    // Located at the whole `formats.gguf` block: the caret runs past the line (see report).
    name: 'missing weight mapping',
    code: 'SPEC206',
    arch: ['      wv: blk.{layer}.attn_v.weight\n', ''],
    expected: [
      'llama.yaml:81:5: error SPEC206: `formats.gguf.layer_weights` has no entry for weight `wv`',
      ' 81 |     params:',
      '    |     ' + '^'.repeat(844),
    ],
  },
  {
    name: 'unknown attribute',
    code: 'SPEC207',
    arch: ['- h = rmsnorm(x, rms_att, eps=norm_eps)',
      '- h = rmsnorm(x, rms_att, epsilon=norm_eps)'],
    expected: [
      'llama.yaml:54:31: error SPEC207: rmsnorm has no attribute `epsilon` (attributes: eps)',
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
