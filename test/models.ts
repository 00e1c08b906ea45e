// Where tests find the shared stories260K checkpoint, tokenizers and goldens.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { knob } from '../src/env.js';

export const MODELS = resolve(knob('models') ?? join(process.cwd(), '..', 'shared', 'models'));

/** Absolute path of a file under the models folder; fails loudly when it is absent. */
export function modelPath(relative: string): string {
  const path = join(MODELS, relative);
  if (!existsSync(path)) {
    throw new Error(`model data not found: ${path} (set SMELT_MODELS to the shared models folder)`);
  }
  return path;
}

export function readGolden<T = any>(name: string): T {
  return JSON.parse(readFileSync(modelPath(join('golden', name)), 'utf8')) as T;
}
