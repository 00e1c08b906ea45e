// Micro-benchmarks of single generated kernels across backends, with Benchmark.js:
// matrix-vector (decode) and matrix-matrix (prefill) products, fused norm + matmul,
// attention at decode, and RMS norm, at SmolLM-135M's shapes (dim 576, hidden 1536,
// 9 heads over 3 KV heads of 64).
//
//   npm run bench:kernels     BENCH_BACKENDS=c,wasm (add ref to see the interpreter)
//
// Each case is a one-op graph whose operands are rows gathered by `embed` from random
// tables (as the cross-backend tests build them), so a figure includes that gather: n rows
// of the operand width, small next to the op itself. Figures are Benchmark.js means with
// their relative margin of error; GFLOP/s come from the same cost model as `smelt bench`.

import Benchmark from 'benchmark';
import { backendNamed } from '../backends/index.js';
import type { CompileInput, Executable } from '../backends/index.js';
import { GraphBuilder } from '../ir/graph.js';
import type { Attrs, OpKind } from '../ir/ops.js';
import { stepCost } from '../src/bench/cost.js';
import { uniform } from '../src/runtime/random.js';

const BACKENDS = (process.env.BENCH_BACKENDS ?? 'c,wasm').split(',');
const ROWS = 64; // rows of every gathered operand table

interface Case {
  name: string;
  input: CompileInput;
  /** Tokens per step and the position of the first. */
  n: number;
  pos: number;
}

function random(count: number, seed: number): Float32Array {
  const next = uniform(seed);
  return Float32Array.from({ length: count }, () => next() * 2 - 1);
}

/** `op` over activations of the given widths (gathered rows) and weights of given shapes. */
function opCase(name: string, op: OpKind, widths: number[], weights: number[][], attrs: Attrs,
  n: number, pos = 0, states: number[][] = []): Case {
  const b = new GraphBuilder();
  const data = new Map<string, Float32Array>();
  const tokens = b.leaf('input', 'tokens', { dtype: 'i32', shape: ['seq'] });
  const leaf = (shape: number[], i: number) => {
    data.set(`w${i}`, random(shape.reduce((a, c) => a * c, 1), i + 1));
    return b.leaf('weight', `w${i}`, { dtype: 'f32', shape });
  };
  const acts = widths.map((w, i) => b.apply('embed', [leaf([ROWS, w], i), tokens], {}) as number);
  const ws = weights.map((shape, i) => leaf(shape, widths.length + i));
  const stateDecls = states.map((shape, i) => ({ name: `s${i}`, shape }));
  const caches = stateDecls.map((s) => b.leaf('state', s.name, { dtype: 'f32', shape: s.shape }));
  let out: number;
  if (op === 'attention') {
    const k = b.apply('kv_write', [caches[0]!, acts[1]!], {}) as number;
    const v = b.apply('kv_write', [caches[1]!, acts[2]!], {}) as number;
    out = b.apply('attention', [acts[0]!, k, v], attrs) as number;
  } else {
    const r = b.apply(op, [...acts, ...ws], attrs);
    if (typeof r !== 'number') throw new Error(r.error);
    out = r;
  }
  return { name, input: { graph: b.finish([out]), states: stateDecls, weights: data }, n, pos };
}

const DIM = 576;
const HIDDEN = 1536;
const KV = 192;
const CASES: Case[] = [
  opCase('matvec 1536×576 (decode)', 'matmul', [DIM], [[HIDDEN, DIM]], {}, 1),
  opCase('matmul 64×576 · 1536×576 (prefill)', 'matmul', [DIM], [[HIDDEN, DIM]], {}, 64),
  opCase('rms_matmul 1536×576 (decode)', 'rms_matmul', [DIM], [[DIM], [HIDDEN, DIM]],
    { eps: 1e-5 }, 1),
  opCase('attention 9×3×64 at 512 (decode)', 'attention', [DIM, KV, KV], [],
    { n_heads: 9, n_kv_heads: 3 }, 1, 511, [[1024, KV], [1024, KV]]),
  opCase('rmsnorm 576 × 64 rows', 'rmsnorm', [DIM], [[DIM]], { eps: 1e-5 }, 64),
];

const ids = (n: number) => Int32Array.from({ length: n }, (_, i) => (i * 17) % ROWS);

const suite = new Benchmark.Suite('smelt kernels');
const flops = new Map<string, number>();
for (const c of CASES) {
  for (const backend of BACKENDS) {
    const exe: Executable = await backendNamed(backend).compile(c.input, { threads: 1 });
    const tokens = ids(c.n);
    const name = `${backend.padEnd(4)} ${c.name}`;
    flops.set(name, stepCost(c.input.graph, c.n, c.pos).flops);
    suite.add(name, () => exe.forward(tokens, c.pos), { maxTime: 1, minSamples: 5 });
  }
}
suite.on('cycle', (event: Benchmark.Event) => {
  const b = event.target as unknown as Benchmark & { name: string };
  const seconds = b.stats.mean;
  const gflops = flops.get(b.name)! / seconds / 1e9;
  console.log(`${b.name.padEnd(46)} ${(seconds * 1e6).toFixed(1).padStart(9)} µs ` +
    `±${b.stats.rme.toFixed(1)}%  ${gflops.toFixed(1).padStart(6)} GFLOP/s  ` +
    `(${b.stats.sample.length} samples)`);
});
console.log('one thread; mean time per step (one kernel plus its operand gather)');
suite.run({ async: false });
