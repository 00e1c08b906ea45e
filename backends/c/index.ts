// The native backend: kernel program → C → shared library (cached) → koffi.
//
// The whole forward step is one native call. Weights are copied once into the library's
// own 2 MiB-aligned, huge-page-advised region; the KV cache and the arena live there too.

import koffi from 'koffi';
import { SmeltError } from '../../ir/diagnostics.js';
import { detectTarget } from '../../ir/target.js';
import { compileProgram } from '../../passes/pipeline.js';
import { debugLevel } from '../../src/env.js';
import type { KernelProgram } from '../../ir/kernel.js';
import type {
  Backend, CompileInput, CompileOptions, Executable, KernelProfile,
} from '../types.js';
import { contextLimit, outputWidth, tokenLimit } from '../../ir/graph.js';
import type { StepLimits } from '../types.js';
import { chunkedStep, pipelineOptions } from '../types.js';
import { preparedWeight } from '../weights.js';
import { compileShared, evict } from './compile.js';
import { renderC } from './render.js';

/** Tokens per native call; longer prompts are fed in chunks of this many. */
export const MAX_TOKENS = 128;

// libgomp must stay loaded for the life of the process: unloading it crashes Node.
let gomp: unknown;
// The opaque model handle is an anonymous koffi type: koffi's type names are global to the
// process (not to a module registry), so a named one clashes when this file loads twice.
const MODEL = koffi.pointer(koffi.opaque());

function loadLibrary(path: string, profiled: boolean) {
  gomp ??= koffi.load('libgomp.so.1');
  try {
    const lib = koffi.load(path);
    return {
      profile: profiled ? lib.func('smelt_profile', 'void', [MODEL, 'double *', 'int']) : undefined,
      create: lib.func('smelt_new', MODEL, ['int']),
      setWeights: lib.func('smelt_set_weights', 'void', [MODEL, 'int64_t', 'const float *',
        'int64_t']),
      reset: lib.func('smelt_reset', 'void', [MODEL]),
      forward: lib.func('smelt_forward', 'void', [MODEL, 'const int32_t *', 'int', 'int',
        'float *']),
      free: lib.func('smelt_free', 'void', [MODEL]),
    };
  } catch (e) {
    throw new SmeltError('BACKEND703', `cannot load ${path}: ${(e as Error).message}`);
  }
}

export async function compileNative(input: CompileInput, options: CompileOptions) {
  const target = options.target ?? detectTarget();
  const maxContext = contextLimit(input.graph, input.states);
  const program = compileProgram(input.graph, target, Math.min(MAX_TOKENS, maxContext),
    pipelineOptions(options));
  const source = renderC(program, { profile: options.profile ?? false });
  if (debugLevel() >= 4) process.stderr.write(source);
  const flags = ['-O3', ...target.cflags, '-fopenmp', '-shared', '-fPIC', '-Wl,-z,nodelete'];
  const compiled = compileShared(source, flags, 'model');
  return { program, source, compiled, target, maxContext };
}

type Library = ReturnType<typeof loadLibrary>;

/** Reads the per-call seconds of an instrumented module. */
function kernelProfile(lib: Library, handle: unknown, program: KernelProgram): KernelProfile {
  const read = lib.profile!;
  const seconds = new Float64Array(program.calls.length);
  return {
    calls: program.calls,
    docs: new Map(program.kernels.map((k) => [k.name, k.doc])),
    seconds: () => (read(handle, seconds, 0), seconds.slice()),
    reset: () => read(handle, seconds, 1),
  };
}

class NativeExecutable implements Executable {
  readonly maxContext: number;
  readonly memoryBytes: number;
  readonly profile?: KernelProfile;
  private freed = false;

  constructor(
    private readonly lib: Library,
    private readonly handle: unknown,
    private readonly limits: StepLimits,
    program: KernelProgram,
  ) {
    this.maxContext = limits.maxContext;
    const { weights, states, arena } = program.sizes;
    this.memoryBytes = (weights + states + arena) * 4;
    if (lib.profile) this.profile = kernelProfile(lib, handle, program);
  }

  dispose(): void {
    if (this.freed) return;
    this.freed = true;
    this.lib.free(this.handle);
  }

  reset(): void {
    this.lib.reset(this.handle);
  }

  forward(tokens: Int32Array, pos: number): Float32Array {
    return chunkedStep(tokens, pos, this.limits, (chunk, at, logits) =>
      this.lib.forward(this.handle, chunk, chunk.length, at, logits));
  }
}

export const cBackend: Backend = {
  name: 'c',
  description: 'native code: generated C compiled with the system compiler (OpenMP)',
  async compile(input, options): Promise<Executable> {
    let { program, compiled, maxContext } = await compileNative(input, options);
    let lib: Library;
    try {
      lib = loadLibrary(compiled.path, options.profile ?? false);
    } catch (e) {
      // a damaged cache entry is rebuilt once; a fresh library that fails to load is an error
      if (!compiled.cached) throw e;
      evict(compiled.path);
      ({ program, compiled, maxContext } = await compileNative(input, options));
      lib = loadLibrary(compiled.path, options.profile ?? false);
    }
    const handle = lib.create(options.threads);
    if (!handle) {
      const { weights, states, arena } = program.sizes;
      throw new SmeltError('BACKEND703', `cannot allocate the native module's memory ` +
        `(${((weights + states + arena) * 4 / 2 ** 20).toFixed(1)} MiB)`);
    }
    for (const entry of program.weights) {
      const data = preparedWeight(entry, input.weights, input.encoded);
      lib.setWeights(handle, entry.offset, data, data.length);
    }
    return new NativeExecutable(lib, handle, { vocab: tokenLimit(input.graph),
      width: outputWidth(input.graph), maxTokens: program.maxTokens, maxContext }, program);
  },
};
