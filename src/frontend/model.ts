// Model files and hyperparameter binding.
//
// A model file names an architecture file (relative to itself) and sets its numbers:
//   model: stories260k
//   architecture: llama.yaml
//   params: { dim: 64, ... }
// `loadSpec` accepts either kind of file; an architecture on its own takes its numbers
// from a weight file's metadata later. `bindParams` checks every value against its
// declaration and evaluates the derived parameters.

import { dirname, isAbsolute, join } from 'node:path';
import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { QuantPolicy, WeightDType } from '../../ir/layout.js';
import { QUANT_POLICIES, WEIGHT_DTYPES } from '../../ir/layout.js';
import type { Env, Value } from './expr.js';
import { evalExpr } from './expr.js';
import type { YamlNode } from './source.js';
import { SpecSource, article } from './source.js';
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
  /** The `params:` key, where a required param that is not set is reported. */
  loc: SourceLocation;
  /** The `quant:` section: how weights are stored (see docs/spec.md). */
  quant?: QuantSpec;
}

export interface QuantSpec {
  policy?: QuantPolicy;
  /** Per-weight encodings, by the architecture's weight names. */
  weights: Record<string, WeightDType>;
}

export interface LoadedSpec {
  arch: ArchSpec;
  model?: ModelSpec;
  /** Values set on the command line (`--param name=value`); they win over everything. */
  overrides?: Map<string, GivenParam>;
}

/** The architecture a model file names, as written relative to the model file's folder. */
function loadNamedArchitecture(src: SpecSource, archNode: YamlNode): ArchSpec {
  const written = src.string(archNode, '`architecture`');
  const archPath = isAbsolute(written) ? written : join(dirname(src.file), written);
  return loadArchitecture(SpecSource.load(archPath, 'architecture file', src.where(archNode)));
}

export function loadSpec(path: string): LoadedSpec {
  const src = SpecSource.load(path);
  const root = src.map(src.root, 'a spec (architecture or model file)');
  if (src.optional(root, 'model') === undefined) return { arch: loadArchitecture(src) };

  src.onlyKeys(root, ['model', 'architecture', 'params', 'quant'], 'a model file');
  const arch = loadNamedArchitecture(src, src.field(root, 'architecture', 'a model file'));
  const paramsNode = src.field(root, 'params', 'a model file');
  const params = new Map<string, GivenParam>();
  for (const { key, keyNode, value } of src.entries(src.map(paramsNode, '`params`'))) {
    params.set(key, { value: src.scalar(value, `param \`${key}\``) as Value,
      loc: src.where(keyNode) });
  }
  const name = String(src.scalar(src.field(root, 'model', 'a model file'), '`model`'));
  const loc = src.where(src.keyNode(root, 'params'));
  const quantNode = src.optional(root, 'quant');
  const quant = quantNode === undefined ? undefined : loadQuant(src, quantNode, arch);
  return { arch, model: { name, file: path, params, loc, ...(quant ? { quant } : {}) } };
}

/** `quant: { policy: q4_0, weights: { w2: q8_0 } }`, every value checked (SPEC107). */
function loadQuant(src: SpecSource, node: YamlNode, arch: ArchSpec): QuantSpec {
  const map = src.map(node, '`quant`');
  src.onlyKeys(map, ['policy', 'weights'], '`quant`');
  const oneOf = <T extends string>(value: YamlNode, what: string, allowed: readonly T[]): T => {
    const v = src.string(value, what);
    if (allowed.includes(v as T)) return v as T;
    throw src.error('SPEC107', `${what} must be one of ${allowed.join(', ')}, got \`${v}\``, value);
  };
  const policyNode = src.optional(map, 'policy');
  const weights: Record<string, WeightDType> = {};
  const weightsNode = src.optional(map, 'weights');
  const known = [...arch.weights, ...arch.layerWeights].map((w) => w.name);
  if (weightsNode !== undefined) {
    for (const { key, keyNode, value } of src.entries(src.map(weightsNode, '`quant.weights`'))) {
      if (!known.includes(key)) {
        throw src.error('SPEC107', `\`quant.weights\` names \`${key}\`, which architecture ` +
          `${arch.name} does not declare (weights: ${known.join(', ')})`, keyNode);
      }
      weights[key] = oneOf(value, `the encoding of weight \`${key}\``, WEIGHT_DTYPES);
    }
  }
  return { ...(policyNode ? { policy: oneOf(policyNode, '`quant.policy`', QUANT_POLICIES) } : {}),
    weights };
}

function checkType(decl: ParamDecl, given: GivenParam, origin: string): Value {
  const v = given.value;
  const ok = decl.type === 'bool' ? typeof v === 'boolean'
    : decl.type === 'int' ? typeof v === 'number' && Number.isInteger(v)
      : typeof v === 'number' && Number.isFinite(v);
  if (ok) return v;
  const detail = typeof v === 'number' && !Number.isFinite(v)
    ? `param \`${decl.name}\` must be finite, got ${v}`
    : `param \`${decl.name}\` must be ${article(decl.type)} ${decl.type}` +
      `, got ${JSON.stringify(v)}`;
  if (given.loc) throw new SmeltError('SPEC102', detail, given.loc);
  throw new SmeltError('WEIGHT307', `${detail} (from ${origin})`);
}

/**
 * The environment of every parameter and derived value. `given` values win over
 * defaults. A required parameter nobody sets is SPEC101 at `where` (a model file's
 * `params` key), or without `where` WEIGHT307 naming `origin` (a weight file's metadata).
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
      const detail = `unknown parameter \`${name}\` for architecture ${arch.name} ` +
        `(known: ${known})`;
      throw g.loc ? new SmeltError('SPEC105', detail, g.loc) : new SmeltError('WEIGHT307', detail);
    }
  }
  for (const decl of arch.params) {
    const g = given.get(decl.name);
    if (g) env.set(decl.name, checkType(decl, g, origin));
    else if (decl.default !== undefined) env.set(decl.name, decl.default);
    else if (where) {
      throw new SmeltError('SPEC101', `\`params\` does not set required param ` +
        `\`${decl.name}\`, which has no default`, where);
    } else {
      throw new SmeltError('WEIGHT307', `${origin} does not set required param \`${decl.name}\``);
    }
  }
  for (const d of arch.derived) env.set(d.name, evalExpr(d.expr, env));
  return env;
}

/**
 * An architecture run on its own has only the numbers `--param` sets (`set`): SPEC101 at its
 * first required param that has neither a default nor such a value.
 */
export function requireNumbers(arch: ArchSpec, set: ReadonlyMap<string, unknown> = new Map()):
  void {
  const missing = arch.params.find((p) => p.default === undefined && !set.has(p.name));
  if (!missing) return;
  throw new SmeltError('SPEC101', `param \`${missing.name}\` has no value: an architecture ` +
    'file holds no numbers; run a model file that names it, pass `--weights` with a GGUF ' +
    `or llama2.c file, whose metadata gives them, or set it with --param ${missing.name}=...`,
  missing.loc);
}
