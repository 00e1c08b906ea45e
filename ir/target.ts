// Target descriptions: what the lowering may assume about the machine it renders for.
//
// A target fixes the vector width and the tile sizes of the generated loops, and the ISA
// flags the C compiler gets. `detectTarget` reads the host's CPU flags; `--target NAME`
// picks one by name (for example to test the AVX2 path on an AVX-512 host). `wasm` is the
// WebAssembly SIMD128 machine: 4 lanes, no FMA, 16 vector registers (V8 on x86-64 keeps
// one as scratch); its 2 × 4 tile was among the fastest measured (docs/wasm.md): larger
// tiles that should still fit the registers ran slower under V8.

import { readFileSync } from 'node:fs';
import { SmeltError } from './diagnostics.js';

export interface Target {
  name: 'avx512' | 'avx2' | 'scalar' | 'wasm';
  /** f32 lanes per vector register. */
  lanes: number;
  /** Register tile of a matmul step (prefill): token rows × panels of `lanes` outputs. */
  tile: { rows: number; cols: number };
  /**
   * The tile of integer (quantized) matmuls: a block's unpacked weights must stay in
   * registers beside it (docs/quantization.md has the measurements).
   */
  qtile: { rows: number; cols: number };
  /** Output rows per task in matrix-vector products (decode). */
  matvecRows: number;
  /**
   * Decode attention asks for a KV tile's cache lines before computing on it. At long
   * contexts the cache comes from DRAM; V8's code then waits on it (a 30-layer decode at
   * context 480: 4.8 → 3.2 ms), while gcc's keeps the hardware prefetcher ahead alone and
   * the extra requests only slow it (1.17 → 1.38 ms): docs/benchmarks.md.
   */
  prefetchKv: boolean;
  features: { fma: boolean; f16c: boolean; avx512: boolean; vnni: boolean };
  /** Flags for the C compiler. */
  cflags: string[];
  l1Bytes: number;
  l2Bytes: number;
}

export const TARGETS: Readonly<Record<Target['name'], Target>> = {
  avx512: {
    name: 'avx512', lanes: 16, tile: { rows: 6, cols: 4 }, qtile: { rows: 3, cols: 4 },
    matvecRows: 4, prefetchKv: false,
    features: { fma: true, f16c: true, avx512: true, vnni: true },
    cflags: ['-march=native', '-mprefer-vector-width=512'], l1Bytes: 48 << 10, l2Bytes: 2 << 20,
  },
  avx2: {
    name: 'avx2', lanes: 8, tile: { rows: 3, cols: 3 }, qtile: { rows: 3, cols: 3 },
    matvecRows: 4, prefetchKv: false,
    features: { fma: true, f16c: true, avx512: false, vnni: false },
    cflags: ['-mavx2', '-mfma', '-mf16c'], l1Bytes: 32 << 10, l2Bytes: 1 << 20,
  },
  scalar: {
    name: 'scalar', lanes: 4, tile: { rows: 2, cols: 2 }, qtile: { rows: 2, cols: 2 },
    matvecRows: 2, prefetchKv: false,
    features: { fma: false, f16c: false, avx512: false, vnni: false },
    cflags: [], l1Bytes: 32 << 10, l2Bytes: 256 << 10,
  },
  wasm: {
    name: 'wasm', lanes: 4, tile: { rows: 2, cols: 4 }, qtile: { rows: 1, cols: 2 },
    matvecRows: 4, prefetchKv: true,
    features: { fma: false, f16c: false, avx512: false, vnni: false },
    cflags: [], l1Bytes: 32 << 10, l2Bytes: 256 << 10,
  },
};

function cpuFlags(): Set<string> {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const line = info.split('\n').find((l) => l.startsWith('flags'));
    return new Set(line?.split(':')[1]?.trim().split(/\s+/) ?? []);
  } catch {
    return new Set();
  }
}

/** The best target the host supports. */
export function detectTarget(): Target {
  const flags = cpuFlags();
  if (flags.has('avx512f') && flags.has('avx512bw') && flags.has('avx512vl')) return TARGETS.avx512;
  if (flags.has('avx2') && flags.has('fma')) return TARGETS.avx2;
  return TARGETS.scalar;
}

/** `native` or a target name; an unknown name is a CLI error listing the choices. */
export function targetNamed(name: string): Target {
  if (name === 'native') return detectTarget();
  if (Object.hasOwn(TARGETS, name)) return TARGETS[name as Target['name']];
  throw new SmeltError('CLI501',
    `unknown target \`${name}\` (choose native, ${Object.keys(TARGETS).join(', ')})`);
}
