// Tiled attention over long contexts: several KV tiles, partial tiles, chunks of key
// vectors and their remainders, prefill at pos > 0, and split-KV decode over several tiles.
// The short-context cases in ops.test.ts never leave the first tile.
import { describe, expect, test } from '@jest/globals';
import { backendNamed } from '../../backends/index.js';
import type { CompileInput } from '../../backends/index.js';
import type { Target } from '../../ir/target.js';
import { TARGETS } from '../../ir/target.js';
import { KV_TILE } from '../../passes/lower/attention.js';
import { maxDiff, opGraph } from './harness.js';

const ROWS = 301; // distinct q/k/v rows, so scores differ from position to position
const CONTEXT = 320;

/** [name, heads, kv heads, head size] */
const shapes: [string, number, number, number][] = [
  ['9 heads / 3 kv, head 64 (SmolLM)', 9, 3, 64],
  ['3 heads / 1 kv, head 20', 3, 1, 20],
];

function graph(heads: number, kvHeads: number, headSize: number,
  op: 'attention' | 'attention_kv' = 'attention'): CompileInput {
  const kvWidth = kvHeads * headSize;
  return opGraph(op, [heads * headSize, kvWidth, kvWidth], [],
    { n_heads: heads, n_kv_heads: kvHeads }, [[CONTEXT, kvWidth], [CONTEXT, kvWidth]], 7, ROWS);
}

const tokens = (from: number, count: number) =>
  Int32Array.from({ length: count }, (_, i) => ((from + i) * 37) % ROWS);

/** A 200-token prefill, a 77-token prefill at pos 200, then three decode steps. */
async function run(backend: string, input: CompileInput, options: { threads?: number;
  target?: Target; fuse?: boolean } = {}): Promise<Float32Array> {
  const exe = await backendNamed(backend).compile(input, { threads: 1, ...options });
  const out = [exe.forward(tokens(0, 200), 0), exe.forward(tokens(200, 77), 200)];
  for (let p = 277; p < 280; p++) out.push(exe.forward(tokens(p, 1), p));
  return Float32Array.from(out.flatMap((o) => [...o]));
}

test('the cases cross tiles', () => {
  expect(280).toBeGreaterThan(2 * KV_TILE);
});

describe.each(shapes)('%s', (_, heads, kvHeads, headSize) => {
  const input = graph(heads, kvHeads, headSize);
  let expected: Float32Array;
  test('ref', async () => {
    expected = await run('ref', input);
  });
  const variants: [string, string, Target | undefined][] = [['c', 'avx512', undefined],
    ['c', 'avx2', TARGETS.avx2], ['c', 'scalar', TARGETS.scalar], ['wasm', 'simd128', undefined],
    // the KV prefetch is wasm's; C renders it too (a prefetch instruction), checked here
    ['c', 'avx2 prefetching', { ...TARGETS.avx2, prefetchKv: true }]];
  test.each(variants)('%s %s matches ref, tiled and plain', async (backend, _t, target) => {
    for (const fuse of [true, false]) {
      const got = await run(backend, input, { fuse, ...(target ? { target } : {}) });
      expect(maxDiff(got, expected)).toBeLessThan(1e-5);
    }
  });
  test.each(['c', 'wasm'])('%s: 2 threads agree with 1 bit for bit', async (backend) => {
    expect(await run(backend, input, { threads: 2 })).toEqual(await run(backend, input));
  });
  // what fuse-kv produces, written in the graph: it has only the tiled kernel, fused or not
  test.each(['ref', 'c', 'wasm'])('attention_kv in the graph, on %s, unfused', async (backend) => {
    const fused = graph(heads, kvHeads, headSize, 'attention_kv');
    const got = await run(backend, fused, { fuse: false, threads: 2 });
    expect(maxDiff(got, expected)).toBeLessThan(1e-5);
  });
});
