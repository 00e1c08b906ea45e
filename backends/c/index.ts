// The native backend: kernel program → C → shared library (cached) → koffi.
//
// The whole forward step is one native call. Weights are copied once into the library's
// own 2 MiB-aligned, huge-page-advised region; the KV cache and the arena live there too.

import koffi from 'koffi';
import { SmeltError } from '../../ir/diagnostics.js';
import { detectTarget } from '../../ir/target.js';
import { compileProgram } from '../../passes/pipeline.js';
import { debugLevel } from '../../src/env.js';
import type { Backend, CompileInput, CompileOptions, Executable } from '../types.js';
import { checkStep, outputWidth, tokenLimit } from '../types.js';
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

function loadLibrary(path: string) {
  gomp ??= koffi.load('libgomp.so.1');
  try {
    const lib = koffi.load(path);
    return {
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
  const maxContext = Math.min(...input.states.map((s) => s.shape[0]!));
  const program = compileProgram(input.graph, target, Math.min(MAX_TOKENS, maxContext),
    { fuse: options.fuse ?? true });
  const source = renderC(program);
  if (debugLevel() >= 4) process.stderr.write(source);
  const flags = ['-O3', ...target.cflags, '-fopenmp', '-shared', '-fPIC', '-Wl,-z,nodelete'];
  const compiled = compileShared(source, flags, 'model');
  return { program, source, compiled, target, maxContext };
}

type Library = ReturnType<typeof loadLibrary>;

class NativeExecutable implements Executable {
  constructor(
    private readonly lib: Library,
    private readonly handle: unknown,
    private readonly vocab: number,
    private readonly width: number,
    private readonly maxTokens: number,
    readonly maxContext: number,
  ) {}

  reset(): void {
    this.lib.reset(this.handle);
  }

  /** Feeds `tokens` in chunks of at most maxTokens; logits of every token, [n, vocab]. */
  forward(tokens: Int32Array, pos: number): Float32Array {
    checkStep(tokens, pos, this.vocab, this.maxContext);
    const logits = new Float32Array(tokens.length * this.width);
    for (let at = 0; at < tokens.length; at += this.maxTokens) {
      const chunk = tokens.subarray(at, at + this.maxTokens);
      this.lib.forward(this.handle, chunk, chunk.length, pos + at,
        logits.subarray(at * this.width, (at + chunk.length) * this.width));
    }
    return logits;
  }
}

export const cBackend: Backend = {
  name: 'c',
  description: 'native code: generated C compiled with the system compiler (OpenMP)',
  async compile(input, options): Promise<Executable> {
    let { program, compiled, maxContext } = await compileNative(input, options);
    let lib: Library;
    try {
      lib = loadLibrary(compiled.path);
    } catch (e) {
      // a damaged cache entry is rebuilt once; a fresh library that fails to load is an error
      if (!compiled.cached) throw e;
      evict(compiled.path);
      ({ program, compiled, maxContext } = await compileNative(input, options));
      lib = loadLibrary(compiled.path);
    }
    const handle = lib.create(options.threads);
    if (!handle) {
      const { weights, states, arena } = program.sizes;
      throw new SmeltError('BACKEND703', `cannot allocate the native module's memory ` +
        `(${((weights + states + arena) * 4 / 2 ** 20).toFixed(1)} MiB)`);
    }
    for (const entry of program.weights) {
      const data = preparedWeight(entry, input.weights);
      lib.setWeights(handle, entry.offset, data, data.length);
    }
    return new NativeExecutable(lib, handle, tokenLimit(input.graph), outputWidth(input.graph),
      program.maxTokens, maxContext);
  },
};
