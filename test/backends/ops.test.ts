// Every op on every backend against the reference interpreter, over odd shapes (1, 7, 172,
// widths that are not multiples of the vector width) and two steps (a prefill chunk, then
// one decode token) so that `pos` matters.
import { describe, expect, test } from '@jest/globals';
import { BACKENDS } from '../../backends/index.js';
import type { CompileInput } from '../../backends/index.js';
import type { Target } from '../../ir/target.js';
import { TARGETS } from '../../ir/target.js';
import { maxDiff, opGraph, operandGraph, runTwoSteps } from './harness.js';

const cases: [string, CompileInput][] = [
  ['matmul 7→5', opGraph('matmul', [7], [[5, 7]], {})],
  ['matmul 64→172', opGraph('matmul', [64], [[172, 64]], {})],
  ['matmul 172→64', opGraph('matmul', [172], [[64, 172]], {})],
  ['matmul 33→1', opGraph('matmul', [33], [[1, 33]], {})],
  ['rmsnorm 172', opGraph('rmsnorm', [172], [[172]], { eps: 1e-5 })],
  ['rmsnorm 7', opGraph('rmsnorm', [7], [[7]], { eps: 1e-6 })],
  ['rope 48 (6 heads of 8)', opGraph('rope', [48], [], { head_size: 8, theta: 10000 })],
  ['rope 64 (1 head, theta 1e6)', opGraph('rope', [64], [], { head_size: 64, theta: 1e6 })],
  ['silu 172', opGraph('silu', [172], [], {})],
  ['mul 7', opGraph('mul', [7, 7], [], {})],
  ['add 33', opGraph('add', [33, 33], [], {})],
  ['attention 4 heads / 2 kv, head 8',
    opGraph('attention', [32, 16, 16], [], { n_heads: 4, n_kv_heads: 2 }, [[16, 16], [16, 16]])],
  ['attention 3 heads / 3 kv, head 20',
    opGraph('attention', [60, 60, 60], [], { n_heads: 3, n_kv_heads: 3 }, [[16, 60], [16, 60]])],
  ['attention 6 heads / 1 kv, head 16',
    opGraph('attention', [96, 16, 16], [], { n_heads: 6, n_kv_heads: 1 }, [[16, 16], [16, 16]])],
  // fused ops (the fusion passes produce them)
  ['rms_matmul 64→172', operandGraph('rms_matmul', [{ act: 64 }, { weight: [64] },
    { weight: [172, 64] }], { eps: 1e-5 })],
  ['rms_matmul 7→33', operandGraph('rms_matmul', [{ act: 7 }, { weight: [7] },
    { weight: [33, 7] }], { eps: 1e-6 })],
  ['matmul_add 172→64', operandGraph('matmul_add', [{ act: 172 }, { weight: [64, 172] },
    { act: 64 }], {})],
  ['matmul_add 5→9',
    operandGraph('matmul_add', [{ act: 5 }, { weight: [9, 5] }, { act: 9 }], {})],
  ['swiglu_matmul 64→172', operandGraph('swiglu_matmul', [{ act: 64 }, { weight: [64] },
    { weight: [172, 64] }, { weight: [172, 64] }], { eps: 1e-5 })],
  ['swiglu_matmul 9→20', operandGraph('swiglu_matmul', [{ act: 9 }, { weight: [9] },
    { weight: [20, 9] }, { weight: [20, 9] }], { eps: 1e-5 })],
];

const run = (backend: string, input: CompileInput, threads = 1, target?: Target) =>
  runTwoSteps(backend, input, { threads, ...(target ? { target } : {}) });

describe.each(BACKENDS.filter((b) => b.name !== 'ref').map((b) => b.name))('%s backend', (name) => {
  test.each(cases)('%s matches ref', async (_, input) => {
    const expected = await run('ref', input);
    const got = await run(name, input);
    expect(maxDiff(got, expected)).toBeLessThan(1e-5);
  });

  test.each(cases)('%s: 1 and 2 threads agree bit for bit', async (_, input) => {
    expect(await run(name, input, 2)).toEqual(await run(name, input, 1));
  });
});

// The narrower targets render the same kernels with other vector widths and tiles; they
// run on any x86-64 host that has AVX2 (every machine this project runs on).
describe.each(['avx2', 'scalar'] as const)('c backend, target %s', (name) => {
  test.each(cases)('%s matches ref', async (_, input) => {
    const expected = await run('ref', input);
    expect(maxDiff(await run('c', input, 2, TARGETS[name]), expected)).toBeLessThan(1e-5);
  });
});
