// Model files and hyperparameter binding.
//
// A model file names an architecture file (relative to itself) and sets its numbers:
//   model: stories260k
//   architecture: llama.yaml
//   params: { dim: 64, ... }
// `loadSpec` accepts either kind of file; an architecture on its own takes its numbers
// from a weight file's metadata later. `bindParams` checks every value against its
// declaration and evaluates the derived parameters.

import { dirname, resolve } from 'node:path';
import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Env, Value } from './expr.js';
import { evalExpr } from './expr.js';
import { SpecSource } from './source.js';
import type { ArchSpec, ParamDecl } from './spec.js';
import { loadArchitecture } from './spec.js';

export interface GivenParam {
  value: Value;
  loc?: SourceLocation;
}

export interface ModelSpec {
  name: string;
  file: string;
  params: Map<string, GivenParam>;
  loc: SourceLocation;
}

export interface LoadedSpec {
  arch: ArchSpec;
  model?: ModelSpec;
}

export function loadSpec(path: string): LoadedSpec {
  const src = SpecSource.load(path);
  const root = src.map(src.root, 'a spec (architecture or model file)');
  if (src.optional(root, 'model') === undefined) return { arch: loadArchitecture(src) };

  src.onlyKeys(root, ['model', 'architecture', 'params'], 'a model file');
  const archNode = src.field(root, 'architecture', 'a model file');
  const archPath = resolve(dirname(path), src.string(archNode, '`architecture`'));
  let arch: ArchSpec;
  try {
    arch = loadArchitecture(SpecSource.load(archPath));
  } catch (e) {
    if (e instanceof SmeltError && e.code === 'SPEC106') {
      throw src.error('SPEC106', `architecture file ${archPath} not found`, archNode);
    }
    throw e;
  }
  const params = new Map<string, GivenParam>();
  for (const { key, keyNode, value } of src.entries(src.map(src.field(root, 'params',
    'a model file'), '`params`'))) {
    params.set(key, { value: src.scalar(value, `param \`${key}\``) as Value,
      loc: src.where(keyNode) });
  }
  const name = String(src.scalar(src.field(root, 'model', 'a model file'), '`model`'));
  return { arch, model: { name, file: path, params, loc: src.where(root) } };
}

function checkType(decl: ParamDecl, given: GivenParam, origin: string): Value {
  const v = given.value;
  const ok = decl.type === 'bool' ? typeof v === 'boolean'
    : decl.type === 'int' ? typeof v === 'number' && Number.isInteger(v)
      : typeof v === 'number';
  if (ok) return v;
  const detail = `param \`${decl.name}\` must be ${decl.type === 'int' ? 'an int' : `a ${decl.type}`}` +
    `, got ${JSON.stringify(v)}`;
  if (given.loc) throw new SmeltError('SPEC102', detail, given.loc);
  throw new SmeltError('WEIGHT307', `${detail} (from ${origin})`);
}

/**
 * The environment of every parameter and derived value. `given` values win over
 * defaults; a required parameter nobody sets is an error naming `origin`.
 */
export function bindParams(
  arch: ArchSpec,
  given: Map<string, GivenParam>,
  origin: string,
  where?: SourceLocation,
): Env {
  const env = new Map<string, Value>();
  for (const [name, g] of given) {
    if (!arch.params.some((p) => p.name === name)) {
      const known = arch.params.map((p) => p.name).join(', ');
      const detail = `unknown parameter \`${name}\` for architecture ${arch.name} (known: ${known})`;
      throw g.loc ? new SmeltError('SPEC105', detail, g.loc) : new SmeltError('WEIGHT307', detail);
    }
  }
  for (const decl of arch.params) {
    const g = given.get(decl.name);
    if (g) env.set(decl.name, checkType(decl, g, origin));
    else if (decl.default !== undefined) env.set(decl.name, decl.default);
    else {
      const detail = `${origin} does not set required param \`${decl.name}\``;
      throw where ? new SmeltError('SPEC101', detail, where) : new SmeltError('WEIGHT307', detail);
    }
  }
  for (const d of arch.derived) env.set(d.name, evalExpr(d.expr, env));
  return env;
}
