// The wasm backend beyond the shared op tests: the emitted module is valid WebAssembly
// (for V8, Binaryen and wabt alike), it agrees with the C backend, builds are cached, and
// a model past the 4 GiB of wasm32 is refused at compile time with the plan's sizes.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { backendNamed } from '../../backends/index.js';
import type { CompileInput } from '../../backends/index.js';
import { buildWasm } from '../../backends/wasm/index.js';
import { pagesFor } from '../../backends/wasm/memory.js';
import { WorkerPool, imports } from '../../backends/wasm/pool.js';
import { toWat } from '../../backends/wasm/wat.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';
import { VOCAB, opGraph } from './harness.js';

process.env.SMELT_CACHE_DIR = mkdtempSync(join(tmpdir(), 'smelt-wasm-'));

const spec = (path: string): CompileInput => {
  const model = specGraph(loadSpec(path));
  return { graph: model.graph, states: model.states, weights: new Map() };
};

describe('the emitted module', () => {
  test.each([1, 2])('validates with %i thread(s): V8, and wabt with the matching features',
    async (threads) => {
      const build = await buildWasm(spec('specs/stories260k.yaml'), { threads });
      expect(build.threaded).toBe(threads > 1);
      expect(WebAssembly.validate(build.binary)).toBe(true);
      const wat = await toWat(build.binary, build.threaded);
      expect(wat).toContain('(func $forward (export "forward")');
      expect(wat).toMatch(/f32x4\.mul/);
      expect(wat.includes('memory.atomic.wait32')).toBe(threads > 1);
    });

  test('a second build of the same program comes from the cache', async () => {
    const input = opGraph('silu', [13], [], {});
    const first = await buildWasm(input, { threads: 1 });
    const second = await buildWasm(input, { threads: 1 });
    expect(second.cached).toBe(true);
    expect(second.binary).toEqual(first.binary);
  });
});

describe('threads', () => {
  test('a worker that traps stops the step with its message, instead of hanging', async () => {
    const build = await buildWasm(spec('specs/stories260k.yaml'), { threads: 2 });
    const pages = pagesFor(build.layout, 2);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    const module = new WebAssembly.Module(build.binary);
    const { tokens, logits, scratch } = build.layout;
    const forward = new WebAssembly.Instance(module, imports(memory, 2, 0, scratch)).exports
      .forward as (...args: number[]) => void;
    // worker 1's scratch frame lies past the end of memory: attention traps there
    const pool = await WorkerPool.start(module, memory, { ...build.layout, scratch: 2 ** 31 }, 2);
    expect(() => pool.run(1, 0, tokens, logits, () => forward(tokens, 1, 0, logits)))
      .toThrow(/worker 1: RuntimeError: memory access out of bounds\n\s+at k:attention/);
  });
});

describe('wasm against c', () => {
  const cases: [string, CompileInput][] = [
    ['matmul 64→172', opGraph('matmul', [64], [[172, 64]], {})],
    ['rmsnorm 33', opGraph('rmsnorm', [33], [[33]], { eps: 1e-5 })],
    ['rope 48', opGraph('rope', [48], [], { head_size: 8, theta: 10000 })],
    ['attention 4 / 2 heads', opGraph('attention', [32, 16, 16], [], { n_heads: 4, n_kv_heads: 2 },
      [[16, 16], [16, 16]])],
  ];
  test.each(cases)('%s agrees to 1e-5', async (_, input) => {
    const outputs = [];
    for (const name of ['c', 'wasm']) {
      const exe = await backendNamed(name).compile(input, { threads: 1 });
      const prefill = exe.forward(Int32Array.from([3, 1, 4, 1, 5, 9, 2].map((t) => t % VOCAB)), 0);
      outputs.push(Float32Array.from([...prefill, ...exe.forward(Int32Array.of(6), 7)]));
    }
    const [c, wasm] = outputs as [Float32Array, Float32Array];
    expect(wasm.reduce((m, x, i) => Math.max(m, Math.abs(x - c[i]!)), 0)).toBeLessThan(1e-5);
  });
});

describe('the 4 GiB limit of wasm32', () => {
  test('a plan that does not fit is refused at compile time, with its sizes', async () => {
    // TinyLlama-1.1B-shaped: 4.1 GiB of f32 weights, just past wasm32, well within the machine
    const dir = mkdtempSync(join(tmpdir(), 'smelt-big-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `model: big\narchitecture: ${resolve('specs/llama.yaml')}\nparams:\n` +
      '  dim: 2048\n  hidden_dim: 5632\n  n_layers: 22\n  n_heads: 32\n  n_kv_heads: 4\n' +
      '  vocab_size: 32000\n  seq_len: 2048\n  norm_eps: 1.0e-5\n  rope_theta: 10000.0\n' +
      '  tied_output: false\n');
    const error = await buildWasm(spec(file), { threads: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SmeltError);
    expect((error as SmeltError).code).toBe('BACKEND704');
    const { detail } = error as SmeltError;
    expect(detail).toMatch(/^the model needs 4\.\d\d GiB of memory — weights /);
    expect(detail).toMatch(/weights 4\.\d\d GiB, KV cache 0\.09 GiB, arena [\d.]+ GiB/);
    expect(detail).toMatch(/a wasm32 module addresses at most 4 GiB; use the c backend/);
  });
});
