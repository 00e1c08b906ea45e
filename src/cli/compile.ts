// `smelt compile`: render a spec for a backend and write the artifacts to a folder.

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileNative } from '../../backends/c/index.js';
import { backendNamed } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { targetNamed } from '../../ir/target.js';
import { loadSpec, specGraph } from '../frontend/index.js';
import { formatBytes } from './format.js';

export interface CompileFlags {
  backend: string;
  out?: string;
  emitC?: boolean;
  target: string;
}

export async function compileCommand(specPath: string, flags: CompileFlags): Promise<void> {
  const backend = backendNamed(flags.backend);
  if (backend.name !== 'c') {
    throw new SmeltError('CLI501', `smelt compile writes native modules; --backend ${backend.name}` +
      ' has nothing to compile (use --backend c)');
  }
  if (!flags.out && !flags.emitC) {
    throw new SmeltError('CLI501', 'say where the module goes (-o DIR) or print it (--emit-c)');
  }
  const model = specGraph(loadSpec(specPath));
  const start = performance.now();
  const { program, source, compiled, target } = await compileNative(
    { graph: model.graph, states: model.states, weights: new Map() },
    { threads: 1, target: targetNamed(flags.target) });
  const seconds = (performance.now() - start) / 1000;
  if (flags.emitC) process.stdout.write(source);
  if (flags.out) {
    mkdirSync(flags.out, { recursive: true });
    writeFileSync(join(flags.out, 'model.c'), source);
    copyFileSync(compiled.path, join(flags.out, 'model.so'));
    const { weights, states, arena } = program.sizes;
    process.stderr.write(`${join(flags.out, 'model.so')}: ${program.kernels.length} kernels, ` +
      `${program.calls.length} calls, target ${target.name}; weights ${formatBytes(weights * 4)}, ` +
      `KV cache ${formatBytes(states * 4)}, arena ${formatBytes(arena * 4)}; ` +
      `${compiled.cached ? 'from cache' : 'compiled'} in ${seconds.toFixed(2)} s\n`);
  }
}
