// The wasm backend: kernel program → Binaryen module (cached) → WebAssembly instance(s).
//
// The program is lowered for the `wasm` target (4 lanes: panels of 4, a 3 × 3 tile) whatever
// native target is asked for. The module is rendered, validated and optimized once per
// program: its binary is cached under the native backend's cache folder, keyed by the
// program, the thread mode, the Binaryen version and this backend's own source files.
// A whole forward step is one call into wasm; weights are packed and copied into the
// linear memory once. With threads, see pool.ts.

import { createHash } from 'node:crypto';
import {
  existsSync, readFileSync, readdirSync, renameSync, writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFolders } from '../dirs.js';
import type { KernelProgram } from '../../ir/kernel.js';
import { TARGETS } from '../../ir/target.js';
import { compileProgram } from '../../passes/pipeline.js';
import { debugLevel } from '../../src/env.js';
import { cacheDir } from '../c/compile.js';
import type {
  Backend, CompileInput, CompileOptions, Executable, KernelProfile,
} from '../types.js';
import { contextLimit, outputWidth, tokenLimit } from '../../ir/graph.js';
import type { StepLimits } from '../types.js';
import { chunkedStep, pipelineOptions } from '../types.js';
import { preparedWeight } from '../weights.js';
import type { MemoryLayout } from './memory.js';
import { adviseHugePages } from './hugepages.js';
import { pagesFor, planLayout } from './memory.js';
import { binaryenVersion, loadBinaryen } from './module.js';
import { WorkerPool, imports } from './pool.js';
import { renderModule } from './render.js';
import { toWat } from './wat.js';

/** Tokens per call into wasm; longer prompts are fed in chunks of this many. */
export const MAX_TOKENS = 128;

export interface WasmBuild {
  program: KernelProgram;
  layout: MemoryLayout;
  binary: Uint8Array<ArrayBuffer>;
  /** Built for a shared memory and several threads. */
  threaded: boolean;
  cached: boolean;
  /** Spec to binary, and its phases in seconds (SMELT_DEBUG=2 prints them). */
  seconds: number;
  phases: Record<string, number>;
  maxContext: number;
}

let sourceHash: string | undefined;

/** A hash of this backend's files (compiled JS, or TS under Jest): they shape the binary. */
function backendHash(): string {
  if (sourceHash) return sourceHash;
  const dir = dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  for (const file of readdirSync(dir).sort()) {
    hash.update(file).update(readFileSync(join(dir, file)));
  }
  return (sourceHash = hash.digest('hex'));
}

/** Spec graph → kernel program → module binary, from the cache when it is there. */
export async function buildWasm(input: CompileInput,
  options: Omit<CompileOptions, 'target'>): Promise<WasmBuild> {
  const phases: Record<string, number> = {};
  let last = performance.now();
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (now - last) / 1000;
    if (debugLevel() >= 2) {
      process.stderr.write(`smelt: wasm ${name} ${(now - last).toFixed(2)} ms\n`);
    }
    last = now;
  };
  const first = last;
  const maxContext = contextLimit(input.graph, input.states);
  const program = compileProgram(input.graph, TARGETS.wasm, Math.min(MAX_TOKENS, maxContext),
    pipelineOptions(options));
  const layout = planLayout(program);
  pagesFor(layout, options.threads); // BACKEND704 when it cannot fit
  const threaded = options.threads > 1;
  const profile = options.profile ?? false;
  const key = createHash('sha256').update(JSON.stringify(program))
    .update(`\0${threaded}\0${profile}\0` +
    `${binaryenVersion()}\0${backendHash()}`).digest('hex').slice(0, 20);
  const file = join(cacheDir(), key, 'model.wasm');
  phase('program');
  const base = { program, layout, threaded, maxContext, phases };
  const done = async (binary: Uint8Array<ArrayBuffer>, cached: boolean): Promise<WasmBuild> => {
    if (debugLevel() >= 4) process.stderr.write(await toWat(binary, threaded));
    return { ...base, binary, cached, seconds: (performance.now() - first) / 1000 };
  };
  const hit = existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  if (hit && WebAssembly.validate(hit)) return done(hit, true); // a damaged file is rebuilt

  await loadBinaryen();
  phase('load binaryen');
  const module = renderModule(program, layout, threaded, profile);
  try {
    phase('render');
    module.validate();
    phase('validate');
    module.optimize();
    phase('optimize');
    const binary = new Uint8Array(module.emitBinary());
    phase('emit');
    store(file, binary);
    return await done(binary, false);
  } finally {
    module.dispose();
  }
}

/** Caches a binary; the cache is an optimization, so a read-only folder only costs a rebuild. */
function store(file: string, binary: Uint8Array): void {
  try {
    makeFolders(dirname(file));
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, binary);
    renameSync(tmp, file); // atomic: a concurrent build of the same key is harmless
  } catch (e) {
    if (debugLevel() >= 1) process.stderr.write(`smelt: not cached: ${(e as Error).message}\n`);
  }
}

const noted = new Set<string>();

/** Says `text` on stderr, once per process. */
function noteOnce(text: string): void {
  if (noted.has(text)) return;
  noted.add(text);
  process.stderr.write(`smelt: ${text}\n`);
}

/**
 * The thread count to run: 1 when this runtime cannot share memory, at most one per CPU
 * (each is a JS engine instance, and barriers between more threads than CPUs only wait);
 * either change is said once on stderr.
 */
function usableThreads(threads: number): number {
  if (threads <= 1) return 1;
  let missing = typeof SharedArrayBuffer === 'undefined' ? 'no SharedArrayBuffer' : '';
  try {
    if (!missing) new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch (e) {
    missing = (e as Error).message;
  }
  if (missing) {
    noteOnce(`wasm threads are unavailable here (${missing}); running on one thread`);
    return 1;
  }
  const cpus = availableParallelism();
  if (threads <= cpus) return threads;
  noteOnce(`wasm runs at most one thread per CPU: ${cpus} threads, not ${threads}`);
  return cpus;
}

type Forward = (tokens: number, n: number, pos: number, logits: number) => void;

/** The JS side of an instrumented build: `tick(i)` after call i, `tick(-1)` on entry. */
class CallTimer {
  private readonly sums: Float64Array;
  private last = 0;
  readonly profile: KernelProfile;

  constructor(program: KernelProgram) {
    this.sums = new Float64Array(program.calls.length);
    this.profile = {
      calls: program.calls,
      docs: new Map(program.kernels.map((k) => [k.name, k.doc])),
      seconds: () => this.sums.slice(),
      reset: () => this.sums.fill(0),
    };
  }

  readonly tick = (call: number): number => {
    const now = performance.now();
    if (call >= 0) this.sums[call]! += (now - this.last) / 1000;
    this.last = now;
    return 0;
  };
}

class WasmExecutable implements Executable {
  constructor(
    /** The linear memory's buffer (never grown, so views on it stay valid). */
    private readonly buffer: ArrayBufferLike,
    private readonly layout: MemoryLayout,
    private readonly step: Forward,
    private readonly pool: WorkerPool | undefined,
    private readonly limits: StepLimits,
    private readonly stateFloats: number,
    readonly profile?: KernelProfile,
  ) {}

  get maxContext(): number {
    return this.limits.maxContext;
  }

  /** The whole linear memory: weights, KV cache, arena and the threads' stacks. */
  get memoryBytes(): number {
    return this.buffer.byteLength;
  }

  dispose(): void {
    this.pool?.close();
  }

  reset(): void {
    new Float32Array(this.buffer, this.layout.states, this.stateFloats).fill(0);
  }

  /** Copies each chunk's tokens in, runs the step on every thread, copies its logits out. */
  forward(tokens: Int32Array, pos: number): Float32Array {
    const { tokens: tokensAt, logits: logitsAt } = this.layout;
    return chunkedStep(tokens, pos, this.limits, (chunk, at, logits) => {
      const n = chunk.length;
      new Int32Array(this.buffer, tokensAt, n).set(chunk);
      const run = () => this.step(tokensAt, n, at, logitsAt);
      if (this.pool) this.pool.run(n, at, tokensAt, logitsAt, run);
      else run();
      logits.set(new Float32Array(this.buffer, logitsAt, logits.length));
    });
  }
}

/** Prepares every weight (folded gain, planned layout) straight into the linear memory. */
function copyWeights(memory: WebAssembly.Memory, build: WasmBuild, input: CompileInput): void {
  const heap = new Float32Array(memory.buffer, build.layout.weights, build.program.sizes.weights);
  for (const entry of build.program.weights) {
    heap.set(preparedWeight(entry, input.weights, input.encoded), entry.offset);
  }
}

export const wasmBackend: Backend = {
  name: 'wasm',
  description: 'WebAssembly SIMD128 built with Binaryen, run by the JS engine (worker threads)',
  async compile(input: CompileInput, options: CompileOptions): Promise<Executable> {
    const threads = usableThreads(options.threads);
    const build = await buildWasm(input, { ...options, threads });
    const pages = pagesFor(build.layout, threads);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages,
      shared: build.threaded });
    await adviseHugePages(memory);
    copyWeights(memory, build, input);
    const module = new WebAssembly.Module(build.binary);
    const timer = options.profile ? new CallTimer(build.program) : undefined;
    const instance = new WebAssembly.Instance(module,
      imports(memory, threads, 0, build.layout.scratch, timer?.tick));
    const pool = build.threaded
      ? await WorkerPool.start(module, memory, build.layout, threads) : undefined;
    const { program, layout } = build;
    const step = instance.exports.forward as Forward;
    const limits = { vocab: tokenLimit(input.graph), width: outputWidth(input.graph),
      maxTokens: program.maxTokens, maxContext: build.maxContext };
    return new WasmExecutable(memory.buffer, layout, step, pool, limits, program.sizes.states,
      timer?.profile);
  },
};
