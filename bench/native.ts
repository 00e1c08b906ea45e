// Native backend benchmark: prefill and decode tokens/s for stories260K and a SmolLM-135M-
// shaped Llama (seeded random f32 weights), 1 and 2 threads, against the machine's
// memory-bandwidth roofline (weight bytes read per token ÷ measured read bandwidth).
//
//   npm run bench              all rows        BENCH_REPEAT=N   repeats (default 5)
// Figures are medians over the repeats, measured in one run on a shared machine.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backendNamed } from '../backends/index.js';
import { loadSpec, specGraph } from '../src/frontend/index.js';
import { compileInput, loadModel } from '../src/runtime/load.js';
import { compileNative } from '../backends/c/index.js';
import { probe } from './probe.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
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

/** Spec → kernel program → C → loaded .so, timed with an empty cache and then warm. */
async function compileTimes(spec: string): Promise<{ cold: number; warm: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'smelt-bench-'));
  process.env.SMELT_CACHE_DIR = dir;
  const once = async () => {
    const start = performance.now();
    const model = specGraph(loadSpec(spec));
    await compileNative({ graph: model.graph, states: model.states, weights: new Map() },
      { threads: 1 });
    return (performance.now() - start) / 1000;
  };
  const cold = await once();
  const warm = median(await Promise.all([once(), once(), once()]));
  delete process.env.SMELT_CACHE_DIR;
  rmSync(dir, { recursive: true, force: true });
  return { cold, warm };
}

async function benchModel(spec: string, bandwidth: Record<number, number>) {
  const loaded = loadModel(loadSpec(spec), { seed: 1 });
  const vocab = Number(loaded.model.env.get('vocab_size'));
  const weightBytes = [...loaded.weights.values()].reduce((n, w) => n + w.byteLength, 0);
  const rows = [];
  for (const threads of THREADS) {
    const exe = await backendNamed('c').compile(compileInput(loaded), { threads });
    const prefill: number[] = [];
    const decode: number[] = [];
    for (let r = 0; r <= REPEAT; r++) {
      exe.reset();
      let start = performance.now();
      exe.forward(tokens(PROMPT, vocab), 0);
      const p = (performance.now() - start) / 1000;
      start = performance.now();
      for (let i = 0; i < GEN; i++) exe.forward(tokens(1, vocab), PROMPT + i);
      const d = (performance.now() - start) / 1000;
      if (r > 0) { // the first round warms caches and pages
        prefill.push(PROMPT / p);
        decode.push(GEN / d);
      }
    }
    const roofline = bandwidth[threads]! / weightBytes;
    rows.push({ spec, threads, prefill: median(prefill), decode: median(decode), roofline,
      weightMiB: weightBytes / 2 ** 20 });
  }
  return rows;
}

const ceilings = probe(THREADS);
console.log('machine: read bandwidth ' + THREADS.map((t) =>
  `${(ceilings.readBytesPerSecond[t]! / 1e9).toFixed(1)} GB/s (${t}T)`).join(', ') +
  '; f32 FMA peak ' + THREADS.map((t) =>
  `${(ceilings.flopsPerSecond[t]! / 1e9).toFixed(0)} GFLOP/s (${t}T)`).join(', '));

console.log('\n| model | threads | prefill 128 tok/s | decode tok/s | decode roofline tok/s | ' +
  'fraction | weights MiB |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const spec of ['specs/stories260k.yaml', 'specs/smollm-135m.yaml']) {
  for (const r of await benchModel(spec, ceilings.readBytesPerSecond)) {
    console.log(`| ${spec.replace(/^specs\/|\.yaml$/g, '')} | ${r.threads} | ` +
      `${r.prefill.toFixed(1)} | ${r.decode.toFixed(1)} | ${r.roofline.toFixed(1)} | ` +
      `${(r.decode / r.roofline * 100).toFixed(0)}% | ${r.weightMiB.toFixed(1)} |`);
  }
}

const times = await compileTimes('specs/smollm-135m.yaml');
console.log(`\nsmollm-135m spec → loaded .so: cold ${(times.cold * 1000).toFixed(0)} ms, ` +
  `warm ${(times.warm * 1000).toFixed(0)} ms`);
