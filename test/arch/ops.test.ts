// The primitives added for other model families, op by op on every backend against the
// reference interpreter (same method as test/backends/ops.test.ts: odd widths, a 7-token
// prefill then a decode step at position 7), plus a sliding window across KV tiles.
import { describe, expect, test } from '@jest/globals';
import { BACKENDS, backendNamed } from '../../backends/index.js';
import type { CompileInput } from '../../backends/index.js';
import { TARGETS } from '../../ir/target.js';
import { VOCAB, opGraph } from '../backends/harness.js';

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
  ['attention window 3, 4 heads / 2 kv', opGraph('attention', [32, 16, 16], [],
    { n_heads: 4, n_kv_heads: 2, window: 3 }, [[16, 16], [16, 16]])],
];

async function run(backend: string, input: CompileInput, threads = 1) {
  const exe = await backendNamed(backend).compile(input, { threads });
  const first = exe.forward(Int32Array.from([3, 1, 4, 1, 5, 9, 2].map((t) => t % VOCAB)), 0);
  const second = exe.forward(Int32Array.of(6), 7);
  return Float32Array.from([...first, ...second]);
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1, ...b.map(Math.abs));
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0) / scale;
}

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
