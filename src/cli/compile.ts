// `smelt compile`: render a spec for a backend and write the artifacts to a folder.
//
//   c      model.c and model.so (--emit-c prints the C)
//   wasm   model.wasm and model.json, its memory layout (--emit-wat prints the text form);
//          --threads N > 1 builds the shared-memory module the worker pool runs

import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compileNative } from '../../backends/c/index.js';
import { backendNamed } from '../../backends/index.js';
import { buildWasm } from '../../backends/wasm/index.js';
import { toWat } from '../../backends/wasm/wat.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { KernelProgram } from '../../ir/kernel.js';
import { targetNamed } from '../../ir/target.js';
import { loadSpec, specGraph } from '../frontend/index.js';
import { formatBytes } from './format.js';
import type { QuantFlags } from './setup.js';
import { quantOptions } from './setup.js';

export interface CompileFlags extends QuantFlags {
  backend: string;
  out?: string;
  emitC?: boolean;
  emitWat?: boolean;
  target: string;
  threads: number;
}

function summary(file: string, program: KernelProgram, what: string, cached: boolean,
  seconds: number): string {
  const { weights, states, arena } = program.sizes;
  return `${file}: ${program.kernels.length} kernels, ${program.calls.length} calls, ${what}; ` +
    `weights ${formatBytes(weights * 4)}, KV cache ${formatBytes(states * 4)}, arena ` +
    `${formatBytes(arena * 4)}; ${cached ? 'from cache' : 'compiled'} in ${seconds.toFixed(2)} s\n`;
}

function checkFlags(backend: string, flags: CompileFlags): void {
  if (backend === 'ref') {
    throw new SmeltError('CLI501', 'the ref backend interprets the graph and has nothing to ' +
      'compile (use --backend c or --backend wasm)');
  }
  const [mine, other] = backend === 'c' ? ['--emit-c', '--emit-wat'] : ['--emit-wat', '--emit-c'];
  if ((backend === 'c' && flags.emitWat) || (backend === 'wasm' && flags.emitC)) {
    throw new SmeltError('CLI501', `${other} does not apply to --backend ${backend} (use ${mine})`);
  }
  if (!flags.out && !flags.emitC && !flags.emitWat) {
    throw new SmeltError('CLI501', `say where the module goes (-o DIR) or print it (${mine})`);
  }
}

async function compileC(specPath: string, flags: CompileFlags): Promise<void> {
  const model = specGraph(loadSpec(specPath));
  const start = performance.now();
  const { program, source, compiled, target } = await compileNative(
    { graph: model.graph, states: model.states, weights: new Map() },
    { threads: 1, target: targetNamed(flags.target), ...quantOptions(model, flags) });
  const seconds = (performance.now() - start) / 1000;
  if (flags.emitC) process.stdout.write(source);
  if (flags.out) {
    writableOut(flags.out, () => makeFolder(flags.out!));
    writeFileSync(join(flags.out, 'model.c'), source);
    copyFileSync(compiled.path, join(flags.out, 'model.so'));
    process.stderr.write(summary(join(flags.out, 'model.so'), program, `target ${target.name}`,
      compiled.cached, seconds));
  }
}

async function compileWasm(specPath: string, flags: CompileFlags): Promise<void> {
  const model = specGraph(loadSpec(specPath));
  const start = performance.now();
  const build = await buildWasm({ graph: model.graph, states: model.states,
    weights: new Map() }, { threads: flags.threads, ...quantOptions(model, flags) });
  const seconds = (performance.now() - start) / 1000;
  if (flags.emitWat) process.stdout.write(await toWat(build.binary, build.threaded));
  if (flags.out) {
    writableOut(flags.out, () => makeFolder(flags.out!));
    writeFileSync(join(flags.out, 'model.wasm'), build.binary);
    // what a host needs to run it: where each region and weight goes, what it imports
    writeFileSync(join(flags.out, 'model.json'), JSON.stringify({
      exports: { forward: '(tokens: i32, n: i32, pos: i32, logits: i32) → ()' },
      imports: build.threaded ? ['memory (shared)', 'exp', 'cos', 'sin', 'pow', 'wid',
        'nthreads', 'scratch'] : ['memory', 'exp', 'cos', 'sin', 'pow'],
      layout: build.layout, maxTokens: build.program.maxTokens, vocab: build.program.vocab,
      weights: build.program.weights,
    }, null, 1) + '\n');
    process.stderr.write(summary(join(flags.out, 'model.wasm'), build.program,
      `wasm SIMD128${build.threaded ? ' with threads' : ''}`, build.cached, seconds));
  }
}

export async function compileCommand(specPath: string, flags: CompileFlags): Promise<void> {
  const backend = backendNamed(flags.backend).name;
  checkFlags(backend, flags);
  await (backend === 'wasm' ? compileWasm(specPath, flags) : compileC(specPath, flags));
}

/**
 * Creates the output folder. Node's recursive mkdir loops forever under /proc (it keeps
 * retrying a parent that exists but refuses children), so recursion is used only when
 * the parent itself is missing.
 */
function makeFolder(path: string): void {
  if (existsSync(path) && statSync(path).isDirectory()) return;
  mkdirSync(path, { recursive: !existsSync(dirname(path)) });
}

/** A file-system step of writing the output folder; failure is CLI502 naming the path. */
function writableOut<T>(path: string, step: () => T): T {
  try {
    return step();
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SmeltError('CLI502', `cannot write to ${path} (${reason})`);
  }
}
