// The frontend: a YAML spec in, a verified graph IR out.

import { verify } from '../../ir/verify.js';
import type { ModelGraph } from './build.js';
import { buildGraph } from './build.js';
import type { GivenParam, LoadedSpec } from './model.js';
import { checkSkipDims } from './format-check.js';
import { bindParams, requireNumbers } from './model.js';

export type { ModelGraph, WeightSlot } from './build.js';
export type { LoadedSpec, GivenParam } from './model.js';
export { loadSpec } from './model.js';

/**
 * The graph of `spec` with its model file's numbers, overridden by `given` (for example
 * numbers read from a weight file's metadata, named by `origin`). An architecture with
 * neither a model file nor a weight file's numbers is SPEC101, unless every param has a
 * default.
 */
export function specGraph(spec: LoadedSpec, given = new Map<string, GivenParam>(),
  origin?: string): ModelGraph {
  if (!spec.model && given.size === 0 && origin === undefined) requireNumbers(spec.arch);
  const params = new Map([...(spec.model?.params ?? []), ...given]);
  const from = origin ?? (spec.model ? `model file ${spec.model.file}` : `spec ${spec.arch.file}`);
  const env = bindParams(spec.arch, params, from, given.size === 0 ? spec.model?.loc : undefined);
  checkSkipDims(spec.arch.formats, env);
  const model = buildGraph(spec.arch, env);
  verify(model.graph, 'frontend');
  return model;
}
