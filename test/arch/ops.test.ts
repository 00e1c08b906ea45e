// The primitives added for other model families, op by op on every backend against the
// reference interpreter (same method as test/backends/ops.test.ts: odd widths, a 7-token
// prefill then a decode step at position 7), plus a sliding window across KV tiles.
import { describe, expect, test } from '@jest/globals';
import { BACKENDS, backendNamed } from '../../backends/index.js';
import type { CompileInput } from '../../backends/index.js';
import { TARGETS } from '../../ir/target.js';
import { VOCAB, maxDiff, opGraph, runTwoSteps } from '../backends/harness.js';

const cases: [string, CompileInput][] = [
  ['layernorm 172', opGraph('layernorm', [172], [[172], [172]], { eps: 1e-5 })],
  ['layernorm 7', opGraph('layernorm', [7], [[7], [7]], { eps: 1e-6 })],
  ['add_bias 33', opGraph('add_bias', [33], [[33]], {})],
  ['gelu 172', opGraph('gelu', [172], [], {})],
  ['pos_embed 20 (table of 16 positions)', opGraph('pos_embed', [20], [[16, 20]], {})],
  ['slice 48 → [16, 32)', opGraph('slice', [48], [], { start: 16, size: 16 })],
  ['slice 33 → [5, 12)', opGraph('slice', [33], [], { start: 5, size: 7 })],
  ['scale 7 by 8', opGraph('scale', [7], [], { by: 8 })],
  ['softcap 33 at 0.5', opGraph('softcap', [33], [], { cap: 0.5 })],
  ['rmsnorm 9 with gain 1 + w', opGraph('rmsnorm', [9], [[9]], { eps: 1e-6, gain_offset: 1 })],
  ['rope neox 48 (3 heads of 16)',
    opGraph('rope', [48], [], { head_size: 16, theta: 1e6, neox: true })],
  ['rope partial 48 (rot 6 of 16)', opGraph('rope', [48], [], { head_size: 16, theta: 10000,
    rot_dims: 6 })],
  ['rope neox partial 40 (rot 4 of 20)', opGraph('rope', [40], [], { head_size: 20,
    theta: 10000, rot_dims: 4, neox: true })],
  ['rope linear ×4', opGraph('rope', [32], [], { head_size: 16, theta: 10000,
    linear_factor: 4 })],
  ['rope ntk α 8', opGraph('rope', [32], [], { head_size: 16, theta: 10000, ntk_alpha: 8 })],
  ['rope yarn ×8', opGraph('rope', [64], [], { head_size: 64, theta: 10000, yarn_factor: 8,
    yarn_orig_ctx: 64 })],
  ['rope llama3 ×8', opGraph('rope', [64], [], { head_size: 64, theta: 500000,
    llama3_factor: 8, llama3_orig_ctx: 64 })],
  ['moe 4 experts, top 2, dim 20, hidden 12', opGraph('moe', [20],
    [[4, 20], [4, 12, 20], [4, 12, 20], [4, 20, 12]], { top_k: 2 })],
  ['moe 5 experts, top 1, unnormalized, dim 7, hidden 9', opGraph('moe', [7],
    [[5, 7], [5, 9, 7], [5, 9, 7], [5, 7, 9]], { top_k: 1, norm_topk: false })],
  ['moe 3 experts, top 3 (all), dim 33, hidden 17', opGraph('moe', [33],
    [[3, 33], [3, 17, 33], [3, 17, 33], [3, 33, 17]], { top_k: 3 })],
  ['attention window 3, 4 heads / 2 kv', opGraph('attention', [32, 16, 16], [],
    { n_heads: 4, n_kv_heads: 2, window: 3 }, [[16, 16], [16, 16]])],
];

const run = (backend: string, input: CompileInput, threads = 1) =>
  runTwoSteps(backend, input, { threads });

describe.each(BACKENDS.filter((b) => b.name !== 'ref').map((b) => b.name))('%s backend', (name) => {
  test.each(cases)('%s matches ref', async (_, input) => {
    expect(maxDiff(await run(name, input), await run('ref', input))).toBeLessThan(1e-5);
  });

  test.each(cases)('%s: 1 and 2 threads agree bit for bit', async (_, input) => {
    expect(await run(name, input, 2)).toEqual(await run(name, input, 1));
  });
});

test.each(cases)('c backend, target avx2: %s matches ref', async (_, input) => {
  const exe = await backendNamed('c').compile(input, { threads: 1, target: TARGETS.avx2 });
  const ref = await backendNamed('ref').compile(input, { threads: 1 });
  const tokens = Int32Array.from([3, 1, 4, 1, 5, 9, 2].map((t) => t % VOCAB));
  expect(maxDiff(exe.forward(tokens, 0), ref.forward(tokens, 0))).toBeLessThan(1e-5);
});

describe('a sliding window over more than one KV tile (128 positions)', () => {
  const input = opGraph('attention', [16, 8, 8], [], { n_heads: 2, n_kv_heads: 1,
    window: 100 }, [[300, 8], [300, 8]]);
  const tokens = Int32Array.from({ length: 150 }, (_, i) => (i * 7) % VOCAB);

  test.each(['c', 'wasm'])('%s: tiled and plain kernels match ref, prefill and decode',
    async (name) => {
      for (const fuse of [true, false]) {
        const exe = await backendNamed(name).compile(input, { threads: 2, fuse });
        const ref = await backendNamed('ref').compile(input, { threads: 1 });
        expect(maxDiff(exe.forward(tokens, 0), ref.forward(tokens, 0))).toBeLessThan(1e-5);
        const step = Int32Array.of(5);
        expect(maxDiff(exe.forward(step, 150), ref.forward(step, 150))).toBeLessThan(1e-5);
      }
    });

  test('the window changes the result (ref, against no window)', async () => {
    const all = opGraph('attention', [16, 8, 8], [], { n_heads: 2, n_kv_heads: 1 },
      [[300, 8], [300, 8]]);
    const a = (await backendNamed('ref').compile(input, { threads: 1 })).forward(tokens, 0);
    const b = (await backendNamed('ref').compile(all, { threads: 1 })).forward(tokens, 0);
    expect(a.slice(0, 100 * 16)).toEqual(b.slice(0, 100 * 16));
    expect(maxDiff(a, b)).toBeGreaterThan(1e-3);
  });
});

describe('moe reads only the chosen experts', () => {
  // 8 experts, 1 per token, 8 tokens in all: find an expert no token chooses (its NaN
  // weights leave ref's output finite), then poison its weights on every backend
  const input = opGraph('moe', [16], [[8, 16], [8, 8, 16], [8, 8, 16], [8, 16, 8]],
    { top_k: 1 });
  const poisoned = (e: number) => {
    const weights = new Map(input.weights);
    for (const name of ['w2', 'w3', 'w4']) {
      const data = Float32Array.from(weights.get(name)!);
      const size = data.length / 8;
      data.fill(NaN, e * size, (e + 1) * size);
      weights.set(name, data);
    }
    return { ...input, weights };
  };

  test.each(['ref', 'c', 'wasm'])('%s: an unchosen expert of NaNs changes nothing',
    async (name) => {
      const finite = async (i: CompileInput) => (await run('ref', i)).every(Number.isFinite);
      const isFinite = await Promise.all([...Array(8).keys()].map((e) => finite(poisoned(e))));
      const unchosen = isFinite.indexOf(true);
      const chosen = isFinite.indexOf(false);
      expect(unchosen).toBeGreaterThanOrEqual(0);
      expect(await run(name, poisoned(unchosen))).toEqual(await run(name, input));
      // and a chosen one does change it: the poison is real
      expect((await run(name, poisoned(chosen))).every(Number.isFinite)).toBe(false);
    });
});
