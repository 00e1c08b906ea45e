// Fused vs unfused on a SmolLM-135M-shaped Llama (seeded random f32 weights), on every
// compiled backend: prefill tokens/s at 128 and 512 prompt tokens, decode tokens/s at
// context 16 and 480 (32 timed steps after 4 untimed ones). Medians over BENCH_REPEAT runs
// (default 5), all in this one run. "480 vs 16" is the median of each round's own ratio:
// the two decodes of a round run back to back, so a slow spell of the shared machine moves
// both (the ratio of the medians is printed beside it).
//
//   npm run bench:fusion      BENCH_THREADS=1,2   BENCH_BACKENDS=c,wasm

import { backendNamed } from '../backends/index.js';
import type { Executable } from '../backends/index.js';
import { loadSpec } from '../src/frontend/index.js';
import { compileInput, loadModel } from '../src/runtime/load.js';

const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const THREADS = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'c,wasm').split(',');
const DECODE_STEPS = 32;
const WARM_STEPS = 4;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ids = (n: number) => Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 49152);

function prefill(exe: Executable, n: number): number {
  exe.reset();
  const start = performance.now();
  exe.forward(ids(n), 0);
  return n / ((performance.now() - start) / 1000);
}

/** Decode tokens/s with `context` positions already in the cache. */
function decode(exe: Executable, context: number): number {
  exe.reset();
  // the last WARM_STEPS positions of the context are decoded untimed: the first steps
  // after a long prefill run measurably slower (caches, clocks), at any context length
  exe.forward(ids(context - WARM_STEPS), 0);
  for (let p = context - WARM_STEPS; p < context; p++) exe.forward(ids(1), p);
  const start = performance.now();
  for (let i = 0; i < DECODE_STEPS; i++) exe.forward(ids(1), context + i);
  return DECODE_STEPS / ((performance.now() - start) / 1000);
}

const loaded = loadModel(loadSpec('specs/smollm-135m.yaml'), { seed: 1 });
console.log('| backend | threads | fusion | prefill 128 | prefill 512 | decode @16 | ' +
  'decode @480 | 480 vs 16 |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
// fused and unfused alternate round by round, so both see the same load on a shared machine
for (const backend of BACKENDS) for (const threads of THREADS) {
  const variants = [false, true].map((fuse) => ({ fuse, samples: [[], [], [], []] as number[][] }));
  const exes = await Promise.all(variants.map(({ fuse }) =>
    backendNamed(backend).compile(compileInput(loaded), { threads, fuse })));
  for (const exe of exes) decode(exe, 16); // warm-up: page in weights
  for (let r = 0; r < REPEAT; r++) {
    variants.forEach(({ samples }, i) => {
      const exe = exes[i]!;
      [prefill(exe, 128), prefill(exe, 512), decode(exe, 16), decode(exe, 480)]
        .forEach((x, m) => samples[m]!.push(x));
    });
  }
  for (const { fuse, samples } of variants) {
    const [p128, p512, d16, d480] = samples.map(median) as [number, number, number, number];
    const ratio = median(samples[3]!.map((d, r) => d / samples[2]![r]!));
    const percent = (x: number) => `${((x - 1) * 100).toFixed(0)}%`;
    const variant = fuse ? 'fused' : 'unfused';
    console.log(`| ${backend} | ${threads} | ${variant} | ${p128.toFixed(1)} | ` +
      `${p512.toFixed(1)} | ${d16.toFixed(1)} | ${d480.toFixed(1)} | ${percent(ratio)} ` +
      `(${percent(d480 / d16)}) |`);
  }
}
console.log('(tokens/s, medians of ' + REPEAT + ')');
