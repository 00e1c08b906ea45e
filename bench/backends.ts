// Backend benchmark: prefill and decode tokens/s of the native (c) and WebAssembly (wasm)
// backends, for stories260K and a SmolLM-135M-shaped Llama (seeded random f32 weights),
// 1 and 2 threads, against the machine's memory-bandwidth roofline (weight bytes read per
// token ÷ measured read bandwidth); then what it costs to get a module for SmolLM-135M.
//
//   npm run bench     BENCH_REPEAT=N repeats (default 5)   BENCH_BACKENDS=c,wasm
// Figures are medians over the repeats. Each backend's rounds run back to back: run in
// alternation, one backend's idle thread pool (OpenMP spins for a while after a parallel
// region) takes the cores the other one's threads need.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendNamed } from '../backends/index.js';
import type { Executable } from '../backends/index.js';
import { compileNative } from '../backends/c/index.js';
import { buildWasm } from '../backends/wasm/index.js';
import { loadSpec, specGraph } from '../src/frontend/index.js';
import { compileInput, loadModel } from '../src/runtime/load.js';
import { probe } from '../src/bench/probe.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'c,wasm').split(',');
const PROMPT = 128;
const GEN = 32;
const THREADS = [1, 2];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function tokens(n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

/** One round: a fresh prompt of PROMPT tokens, then GEN decode steps; tokens/s of each. */
function round(exe: Executable, vocab: number): { prefill: number; decode: number } {
  exe.reset();
  let start = performance.now();
  exe.forward(tokens(PROMPT, vocab), 0);
  const prefill = PROMPT / ((performance.now() - start) / 1000);
  start = performance.now();
  for (let i = 0; i < GEN; i++) exe.forward(tokens(1, vocab), PROMPT + i);
  return { prefill, decode: GEN / ((performance.now() - start) / 1000) };
}

interface Row {
  spec: string;
  backend: string;
  threads: number;
  prefill: number;
  decode: number;
  roofline: number;
  weightMiB: number;
}

async function benchModel(spec: string, bandwidth: Record<number, number>): Promise<Row[]> {
  const loaded = loadModel(loadSpec(spec), { seed: 1 });
  const vocab = Number(loaded.model.env.get('vocab_size'));
  const weightBytes = [...loaded.weights.values()].reduce((n, w) => n + w.byteLength, 0);
  const rows: Row[] = [];
  for (const threads of THREADS) {
    for (const backend of BACKENDS) {
      const exe = await backendNamed(backend).compile(compileInput(loaded), { threads });
      const prefill: number[] = [];
      const decode: number[] = [];
      for (let r = 0; r <= REPEAT; r++) {
        const got = round(exe, vocab);
        if (r === 0) continue; // the first round warms caches, pages and the JIT tiers
        prefill.push(got.prefill);
        decode.push(got.decode);
      }
      rows.push({ spec, backend, threads, prefill: median(prefill), decode: median(decode),
        roofline: bandwidth[threads]! / weightBytes, weightMiB: weightBytes / 2 ** 20 });
    }
  }
  return rows;
}

/** Spec → loadable module with an empty cache, then warm, per backend. */
async function compileTimes(spec: string) {
  const dir = mkdtempSync(join(tmpdir(), 'smelt-bench-'));
  process.env.SMELT_CACHE_DIR = dir;
  const model = specGraph(loadSpec(spec));
  const input = { graph: model.graph, states: model.states, weights: new Map() };
  const timed = async (step: () => Promise<unknown>) => {
    const start = performance.now();
    await step();
    return performance.now() - start;
  };
  const c = [await timed(() => compileNative(input, { threads: 1 })),
    await timed(() => compileNative(input, { threads: 1 }))];
  const wasm = await buildWasm(input, { threads: 1 });
  const warm = await timed(() => buildWasm(input, { threads: 1 }));
  delete process.env.SMELT_CACHE_DIR;
  rmSync(dir, { recursive: true, force: true });
  return { c, wasm, warm };
}

const ceilings = probe(THREADS);
console.log('machine: read bandwidth ' + THREADS.map((t) =>
  `${(ceilings.readBytesPerSecond[t]! / 1e9).toFixed(1)} GB/s (${t}T)`).join(', ') +
  '; f32 FMA peak ' + THREADS.map((t) =>
  `${(ceilings.flopsPerSecond[t]! / 1e9).toFixed(0)} GFLOP/s (${t}T)`).join(', '));

console.log('\n| model | backend | threads | prefill 128 tok/s | decode tok/s | decode roofline ' +
  'tok/s | fraction | vs c (prefill, decode) | weights MiB |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const spec of ['specs/stories260k.yaml', 'specs/smollm-135m.yaml']) {
  const rows = await benchModel(spec, ceilings.readBytesPerSecond);
  for (const r of rows) {
    const c = rows.find((x) => x.backend === 'c' && x.threads === r.threads);
    const vsC = c && r !== c ? `${(r.prefill / c.prefill * 100).toFixed(0)}%, ` +
      `${(r.decode / c.decode * 100).toFixed(0)}%` : '';
    console.log(`| ${spec.replace(/^specs\/|\.yaml$/g, '')} | ${r.backend} | ${r.threads} | ` +
      `${r.prefill.toFixed(1)} | ${r.decode.toFixed(1)} | ${r.roofline.toFixed(1)} | ` +
      `${(r.decode / r.roofline * 100).toFixed(0)}% | ${vsC} | ${r.weightMiB.toFixed(1)} |`);
  }
}

const times = await compileTimes('specs/smollm-135m.yaml');
const ms = (s: number) => `${(s * 1000).toFixed(0)} ms`;
console.log(`\nsmollm-135m spec → loadable module, c: cold ${times.c[0]!.toFixed(0)} ms, warm ` +
  `${times.c[1]!.toFixed(0)} ms`);
console.log(`smollm-135m spec → wasm binary: cold ${ms(times.wasm.seconds)} (` +
  Object.entries(times.wasm.phases).map(([k, s]) => `${k} ${ms(s)}`).join(', ') +
  `), warm ${times.warm.toFixed(0)} ms`);
