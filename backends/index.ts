// The backend registry: an explicit list, looked up by name.

import { SmeltError } from '../ir/diagnostics.js';
import { cBackend } from './c/index.js';
import { refBackend } from './ref/interpreter.js';
import type { Backend } from './types.js';
import { wasmBackend } from './wasm/index.js';

export type { Backend, CompileInput, CompileOptions, Executable } from './types.js';

export const BACKENDS: readonly Backend[] = [refBackend, cBackend, wasmBackend];

export function backendNamed(name: string): Backend {
  const backend = BACKENDS.find((b) => b.name === name);
  if (!backend) {
    const known = BACKENDS.map((b) => b.name).join(', ');
    throw new SmeltError('RUN602', `unknown backend \`${name}\` (available: ${known})`);
  }
  return backend;
}
