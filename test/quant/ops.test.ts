// Quantized layouts op by op: every backend and target against the reference interpreter
// run on the weights the layout holds (quantized, then decoded), a prefill chunk then a
// decode step. The float kernels (dequantize in registers) must match within f32 rounding;
// the integer kernels also quantize activations to int8, so they are held to a bound, and
// the c and wasm integer kernels — the same integer sums, rendered two ways — to each other.
import { describe, expect, test } from '@jest/globals';
import type { CompileInput, CompileOptions } from '../../backends/index.js';
import { ROWS } from '../../ir/layout.js';
import { decode, encode } from '../../ir/quant.js';
import type { Target } from '../../ir/target.js';
import { TARGETS } from '../../ir/target.js';
import type { QuantPolicy } from '../../passes/layout.js';
import { selectLayouts } from '../../passes/layout.js';
import { runGraphPasses } from '../../passes/pipeline.js';
import { maxDiff, operandGraph, runTwoSteps } from '../backends/harness.js';

const cases: [string, CompileInput][] = [
  ['matmul 64→37', operandGraph('matmul', [{ act: 64 }, { weight: [37, 64] }], {})],
  ['rms_matmul 64→20', operandGraph('rms_matmul', [{ act: 64 }, { weight: [64] },
    { weight: [20, 64] }], { eps: 1e-5 })],
  ['matmul_add 128→9', operandGraph('matmul_add', [{ act: 128 }, { weight: [9, 128] },
    { act: 9 }], {})],
  ['swiglu_matmul 64→33', operandGraph('swiglu_matmul', [{ act: 64 }, { weight: [64] },
    { weight: [33, 64] }, { weight: [33, 64] }], { eps: 1e-5 })],
  ['matmul 172→8 (f16 fallback)', operandGraph('matmul', [{ act: 172 }, { weight: [8, 172] }],
    {})],
];

/** The weights as the layouts hold them: quantized or halved, then decoded to f32. */
function heldWeights(input: CompileInput, policy: QuantPolicy): CompileInput {
  const graph = runGraphPasses(input.graph);
  const plan = selectLayouts(graph, TARGETS.avx512, { policy });
  const weights = new Map(input.weights);
  for (const node of graph.nodes) {
    const kind = (plan.get(node.id) ?? ROWS).kind;
    if (kind !== 'f16' && kind !== 'q8_0' && kind !== 'q4_0') continue;
    const data = input.weights.get(node.name!)!;
    weights.set(node.name!, decode(kind, encode(kind, data), data.length));
  }
  return { ...input, weights };
}

const run = (backend: string, input: CompileInput, options: Partial<CompileOptions>,
  target?: Target) => runTwoSteps(backend, input, { ...options, ...(target ? { target } : {}) });

const NATIVE = [TARGETS.avx512, TARGETS.avx2, TARGETS.scalar];
// Compile time bounds the matrix (~0.3–1 s per C module): the narrower C targets run the
// first case (their helpers do not depend on the op); f16 has no integer kernels; the f16
// fallback case runs under q8_0.
const targetsFor = (name: string) => (name === cases[0]![0] ? NATIVE : NATIVE.slice(0, 1));
const casesFor = (quant: QuantPolicy) => (quant === 'q8_0' ? cases : cases.slice(0, 4));

describe.each(['f16', 'q8_0', 'q4_0'] as const)('%s layouts, float kernels', (quant) => {
  test.each(casesFor(quant))('%s matches ref on c and wasm', async (name, input) => {
    const expected = await run('ref', heldWeights(input, quant), {});
    for (const target of targetsFor(name)) {
      const got = await run('c', input, { quant, quantKernels: 'float' }, target);
      expect(maxDiff(got, expected)).toBeLessThan(1e-5);
    }
    expect(maxDiff(await run('wasm', input, { quant, quantKernels: 'float' }), expected))
      .toBeLessThan(1e-5);
  });
});

describe.each(['q8_0', 'q4_0'] as const)('%s layouts, int kernels', (quant) => {
  test.each(cases.slice(0, 4))('%s: within 2%% of ref; every c target and wasm agree',
    async (name, input) => {
      const expected = await run('ref', heldWeights(input, quant), {});
      const c = await run('c', input, { quant }, TARGETS.avx512);
      expect(maxDiff(c, expected)).toBeLessThan(2e-2);
      for (const target of targetsFor(name).slice(1)) {
        expect(maxDiff(await run('c', input, { quant }, target), c)).toBeLessThan(1e-5);
      }
      expect(maxDiff(await run('wasm', input, { quant }), c)).toBeLessThan(1e-5);
    });

  test('matmul_add: 1 and 2 threads agree bit for bit on c and wasm', async () => {
    const input = cases[2]![1];
    for (const backend of ['c', 'wasm']) {
      expect(await run(backend, input, { quant, threads: 2 }))
        .toEqual(await run(backend, input, { quant }));
    }
  });
});
