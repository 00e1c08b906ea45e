// Machine ceilings for the roofline: read bandwidth from memory (a buffer far larger than
// the last-level cache, read with vector loads by `threads` threads) and the f32 FMA peak.
// The probe is C compiled like a smelt module, so it sees the same compiler and flags.
//
// `machineCeilings` keeps the result in the smelt cache folder (probe.json), keyed by the
// CPU model, the core count and the compiler: a later run reuses it, `--probe` re-measures.

import koffi from 'koffi';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { cacheDir, compileShared, compilerVersion } from '../../backends/c/compile.js';

const SOURCE = `
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <omp.h>
typedef float f32x16 __attribute__((vector_size(64)));

/* Seconds to read 'bytes' once with 'threads' threads (best of 'reps'). */
double smelt_probe_read(int64_t bytes, int threads, int reps) {
  float *p = NULL;
  if (posix_memalign((void **)&p, 2u << 20, bytes)) return -1;
  madvise(p, bytes, MADV_HUGEPAGE);
  memset(p, 1, bytes);
  int64_t n = bytes / 64;
  double best = 1e30;
  volatile float sink = 0;
  for (int r = 0; r < reps; r++) {
    double t = omp_get_wtime();
    f32x16 total = {0};
    #pragma omp parallel num_threads(threads)
    {
      f32x16 a = {0}, b = {0}, c = {0}, d = {0};
      #pragma omp for schedule(static)
      for (int64_t i = 0; i < n; i += 4) {
        a += ((f32x16 *)p)[i]; b += ((f32x16 *)p)[i + 1];
        c += ((f32x16 *)p)[i + 2]; d += ((f32x16 *)p)[i + 3];
      }
      #pragma omp critical
      total += a + b + c + d;
    }
    t = omp_get_wtime() - t;
    sink += total[0];
    if (t < best) best = t;
  }
  free(p);
  return best;
}

/* Seconds for 'iters' rounds of 12 independent 16-wide FMAs per thread. */
#define FMA12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
double smelt_probe_fma(int64_t iters, int threads) {
  double t = omp_get_wtime();
  volatile float sink = 0;
  #pragma omp parallel num_threads(threads)
  {
    f32x16 m = (f32x16){0} + 0.999999f, k = (f32x16){0} + 1e-7f;
#define DECL(j) f32x16 a##j = (f32x16){0} + (float)j;
#define STEP(j) a##j = a##j * m + k;
#define SUM(j) s += a##j[0];
    FMA12(DECL)
    for (int64_t i = 0; i < iters; i++) { FMA12(STEP) __asm__ volatile("" ::: "memory"); }
    float s = 0;
    FMA12(SUM)
    sink += s;
  }
  return omp_get_wtime() - t;
}
`;

export interface Ceilings {
  /** Read bandwidth from DRAM, bytes/s, by thread count. */
  readBytesPerSecond: Record<number, number>;
  /** f32 FMA peak, FLOP/s, by thread count. */
  flopsPerSecond: Record<number, number>;
}

export function probe(threadCounts: number[]): Ceilings {
  const lib = koffi.load(compileShared(SOURCE,
    ['-O2', '-march=native', '-mprefer-vector-width=512', '-fopenmp', '-shared', '-fPIC',
      '-Wl,-z,nodelete'], 'probe').path);
  const read = lib.func('double smelt_probe_read(int64_t bytes, int threads, int reps)');
  const fma = lib.func('double smelt_probe_fma(int64_t iters, int threads)');
  const bytes = 1 << 30;
  const iters = 20_000_000;
  const ceilings: Ceilings = { readBytesPerSecond: {}, flopsPerSecond: {} };
  for (const t of threadCounts) {
    ceilings.readBytesPerSecond[t] = bytes / (read(bytes, t, 5) as number);
    ceilings.flopsPerSecond[t] = (iters * 12 * 16 * 2 * t) / (fma(iters, t) as number);
  }
  return ceilings;
}

/** The CPU model as /proc/cpuinfo names it. */
export function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? 'unknown CPU';
  } catch {
    return 'unknown CPU';
  }
}

interface ProbeFile {
  key: string;
  measuredAt: string;
  ceilings: Ceilings;
}

export interface MachineCeilings extends Ceilings {
  /** When these figures were measured, and whether this run measured them. */
  measuredAt: string;
  fresh: boolean;
}

/** The ceilings for `threadCounts`: cached ones, measuring any missing (or all, on `remeasure`). */
export function machineCeilings(threadCounts: number[], remeasure: boolean,
  onMeasure?: (file: string) => void): MachineCeilings {
  const file = join(cacheDir(), 'probe.json');
  const key = `${cpuModel()}\0${availableParallelism()}\0${compilerVersion()}`;
  let cached: ProbeFile | undefined;
  try {
    if (!remeasure && existsSync(file)) cached = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    cached = undefined; // a damaged cache file is measured again
  }
  if (cached?.key !== key) cached = undefined;
  const missing = threadCounts.filter((t) => !(t in (cached?.ceilings.readBytesPerSecond ?? {})));
  if (cached && missing.length === 0) return { ...cached.ceilings, measuredAt: cached.measuredAt,
    fresh: false };
  onMeasure?.(file);
  const measured = probe(missing);
  const ceilings: Ceilings = {
    readBytesPerSecond: { ...cached?.ceilings.readBytesPerSecond, ...measured.readBytesPerSecond },
    flopsPerSecond: { ...cached?.ceilings.flopsPerSecond, ...measured.flopsPerSecond },
  };
  const measuredAt = new Date().toISOString();
  try {
    writeFileSync(file, JSON.stringify({ key, measuredAt, ceilings } satisfies ProbeFile));
  } catch {
    // the cache is an optimization: an unwritable one only costs a probe next time
  }
  return { ...ceilings, measuredAt, fresh: true };
}
