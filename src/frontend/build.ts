// Builds the graph IR of an architecture for one set of hyperparameters.
//
// Layers are unrolled: layer i's weights and states become leaves named `layers.i.<name>`.
// Names in statements resolve, innermost first, to: the current layer's weights and
// states, values assigned so far (a later assignment rebinds a name, as `x = add(x, o)`
// does), model weights, then graph inputs. `checkDeclarations` has already made every
// declared name unique and kept statements from assigning to one, so no value shadows
// a weight, state or input. Every mistake is a located SPEC2xx error.

import type { Graph } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import type { AttrValue } from '../../ir/ops.js';
import { OP_KINDS, OP_TABLE, isComputeOp, isOpKind } from '../../ir/ops.js';
import { InternalError, SmeltError } from '../../ir/diagnostics.js';
import type { Dim } from '../../ir/types.js';
import { formatShape, shapeEquals } from '../../ir/types.js';
import type { Env } from './expr.js';
import type { QuantSpec } from './model.js';
import { evalDim, evalExpr } from './expr.js';
import { nearest } from './names.js';
import { article } from './source.js';
import type { ArchSpec, DimExpr, WeightDecl } from './spec.js';
import type { Operand, Statement } from './statement.js';

/** A weight leaf of the built graph and the declaration it came from. */
export interface WeightSlot {
  name: string; // IR leaf name: `token_embedding`, `layers.3.wq`
  decl: WeightDecl;
  layer?: number;
  shape: number[];
}

export interface ModelGraph {
  graph: Graph;
  env: Env;
  slots: WeightSlot[];
  /** Leaf names of the persistent states (KV caches), with their shapes. */
  states: { name: string; shape: number[] }[];
  /** The model file's `quant:` section, if it has one. */
  quant?: QuantSpec;
}

type Scope = Map<string, number>;

function evalShape(shape: DimExpr[], env: Env): Dim[] {
  return shape.map((d) => (d.expr === 'seq' ? 'seq' : evalDim(d.expr, env, d.text)));
}

function concrete(shape: DimExpr[], env: Env, what: string): number[] {
  return shape.map((d) => {
    if (d.expr === 'seq') {
      throw new SmeltError('SPEC204', `${what} cannot have the per-step dimension \`seq\``, d.loc);
    }
    return evalDim(d.expr, env, d.text);
  });
}

function attrsOf(stmt: Statement, op: keyof typeof OP_TABLE, env: Env): Record<string, AttrValue> {
  const specs = OP_TABLE[op].attrs;
  const attrs: Record<string, AttrValue> = {};
  for (const a of stmt.attrs) {
    const spec = specs[a.key];
    if (!spec) {
      const known = Object.keys(specs).join(', ') || 'none';
      throw new SmeltError('SPEC207', `${op} has no attribute \`${a.key}\` (attributes: ${known})`,
        a.loc);
    }
    const value = evalExpr(a.value, env);
    const ok = spec.type === 'bool' ? typeof value === 'boolean'
      : typeof value === 'number' && Number.isFinite(value) &&
        (spec.type === 'number' || Number.isInteger(value));
    if (!ok) {
      throw new SmeltError('SPEC207',
        `${op}: attribute \`${a.key}\` must be ${typeof value === 'number' &&
          !Number.isFinite(value) ? 'finite' : `${article(spec.type)} ${spec.type}`}` +
        `, got ${value}`, a.value.loc);
    }
    if (spec.positive && !((value as number) > 0)) {
      throw new SmeltError('SPEC207',
        `${op}: attribute \`${a.key}\` must be greater than 0, got ${value}`, a.value.loc);
    }
    attrs[a.key] = value;
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (spec.required && !(key in attrs)) {
      throw new SmeltError('SPEC207', `${op} needs attribute \`${key}\``, stmt.op.loc);
    }
  }
  return attrs;
}

/** The scopes a statement sees, innermost first; `values` is the one it assigns to. */
interface Scopes {
  values: Scope;
  lookup: Scope[];
}

/** The id an operand names, or SPEC205 listing the names in scope nearest to it. */
function resolve(o: Operand, opName: string, scopes: Scope[]): number {
  for (const scope of scopes) {
    const id = scope.get(o.name);
    if (id !== undefined) return id;
  }
  const names = scopes.flatMap((s) => [...s.keys()]);
  throw new SmeltError('SPEC205',
    `${opName}: operand \`${o.name}\` is not defined (in scope: ${nearest(o.name, names)})`, o.loc);
}

/**
 * Where a cache operand must come from: kv_write writes a state; attention reads what
 * kv_writes yield; attention_kv writes and reads states itself.
 */
const CACHE_OPERANDS: Readonly<Record<string, { index: number; from: 'state' | 'kv_write';
  role?: 'K' | 'V' }[]>> = {
  kv_write: [{ index: 0, from: 'state' }],
  attention: [{ index: 1, from: 'kv_write', role: 'K' }, { index: 2, from: 'kv_write', role: 'V' }],
  attention_kv: [{ index: 3, from: 'state', role: 'K' }, { index: 4, from: 'state', role: 'V' }],
};

/** The K or V role each cache state has taken so far, per graph being built. */
const cacheRoles = new WeakMap<GraphBuilder, Map<number, 'K' | 'V'>>();

/**
 * SPEC203 at the operand when a cache operand is not a state (or a kv_write of one), or
 * when one state would be both a K and a V cache: the caches are stored in different
 * layouts (docs/architecture.md), so a state plays one role.
 */
function checkCaches(b: GraphBuilder, stmt: Statement, opName: string, inputs: number[]) {
  const roles = cacheRoles.get(b) ?? new Map<number, 'K' | 'V'>();
  cacheRoles.set(b, roles);
  for (const { index, from, role } of CACHE_OPERANDS[opName] ?? []) {
    const operand = OP_TABLE[opName as 'attention'].operands[index];
    const node = b.node(inputs[index]!);
    const what = from === 'state' ? 'a state (declared under `layer_states:`)'
      : 'the result of a kv_write';
    if (node.op !== from) {
      throw new SmeltError('SPEC203', `${opName}: operand \`${operand}\` must be ${what}, ` +
        `got ${article(node.op)} ${node.op} \`${stmt.operands[index]!.name}\``,
        stmt.operands[index]!.loc);
    }
    if (!role) continue;
    const state = from === 'state' ? node.id : node.inputs[0]!;
    const had = roles.get(state);
    if (had !== undefined && had !== role) {
      throw new SmeltError('SPEC203', `${opName}: state \`${b.node(state).name}\` is already ` +
        `the ${had} cache of an attention; one state cannot hold both keys and values`,
        stmt.operands[index]!.loc);
    }
    roles.set(state, role);
  }
}

/** Adds one statement's node and binds its result in `scopes.values`. */
function apply(b: GraphBuilder, stmt: Statement, scopes: Scopes, env: Env): void {
  const opName = stmt.op.name;
  if (!isOpKind(opName) || !isComputeOp(opName)) {
    const known = OP_KINDS.filter(isComputeOp).join(', ');
    throw new SmeltError('SPEC201', `unknown op \`${opName}\` (known ops: ${known})`, stmt.op.loc);
  }
  const info = OP_TABLE[opName];
  if (stmt.operands.length !== info.operands.length) {
    throw new SmeltError('SPEC202', `${opName} takes ${info.operands.length} operands ` +
      `(${info.operands.join(', ')}), got ${stmt.operands.length}`, stmt.op.loc);
  }
  const inputs = stmt.operands.map((o) => resolve(o, opName, scopes.lookup));
  checkCaches(b, stmt, opName, inputs);
  const result = b.apply(opName, inputs, attrsOf(stmt, opName, env),
    { name: stmt.out.name, loc: stmt.loc });
  if (typeof result !== 'number') {
    const at = result.operand ? info.operands.indexOf(result.operand) : -1;
    throw new SmeltError('SPEC203', result.error, at >= 0 ? stmt.operands[at]!.loc : stmt.op.loc);
  }
  scopes.values.set(stmt.out.name, result);
}

/**
 * The leaf a tied weight aliases, or undefined when `when` does not hold. The tie must
 * hold between equal shapes (SPEC203 at the tied weight).
 */
function tieTarget(b: GraphBuilder, decl: WeightDecl, env: Env, scope: Scope): number | undefined {
  if (!decl.tiedTo) return undefined;
  if (decl.when !== undefined) {
    const holds = evalExpr(decl.when, env);
    if (typeof holds !== 'boolean') {
      throw new SmeltError('SPEC102', `\`when\` of weight \`${decl.name}\` must be a bool, ` +
        `got ${holds}`, decl.when.loc);
    }
    if (!holds) return undefined;
  }
  const target = scope.get(decl.tiedTo.name);
  if (target === undefined) {
    throw new InternalError('frontend', `tie target ${decl.tiedTo.name} was not checked at load`);
  }
  const shape = concrete(decl.shape, env, `weight \`${decl.name}\``);
  const want = b.type(target).shape;
  if (!shapeEquals(shape, want)) {
    throw new SmeltError('SPEC203', `weight \`${decl.name}\` is declared ${formatShape(shape)}, ` +
      `but it is tied to \`${decl.tiedTo.name}\`, which is ${formatShape(want)}`, decl.loc);
  }
  return target;
}

function addWeights(b: GraphBuilder, decls: WeightDecl[], env: Env, scope: Scope,
  slots: WeightSlot[], layer?: number): void {
  for (const decl of decls) {
    const target = tieTarget(b, decl, env, scope);
    if (target !== undefined) {
      scope.set(decl.name, target);
      continue;
    }
    const name = layer === undefined ? decl.name : `layers.${layer}.${decl.name}`;
    const shape = concrete(decl.shape, env, `weight \`${decl.name}\``);
    scope.set(decl.name, b.leaf('weight', name, { dtype: 'f32', shape }));
    slots.push({ name, decl, shape, ...(layer === undefined ? {} : { layer }) });
  }
}

export function buildGraph(arch: ArchSpec, env: Env): ModelGraph {
  const b = new GraphBuilder();
  const inputs: Scope = new Map();
  const weights: Scope = new Map();
  const values: Scope = new Map();
  const slots: WeightSlot[] = [];
  const states: { name: string; shape: number[] }[] = [];

  // inputs and model weights
  for (const input of arch.inputs) {
    inputs.set(input.name, b.leaf('input', input.name,
      { dtype: 'i32', shape: evalShape(input.shape, env) }));
  }
  addWeights(b, arch.weights, env, weights, slots);

  // prologue, then every layer with its own weights and states, then epilogue
  const outer: Scopes = { values, lookup: [values, weights, inputs] };
  for (const stmt of arch.prologue) apply(b, stmt, outer, env);
  const nLayers = evalExpr(arch.layerCount, env);
  if (typeof nLayers !== 'number' || !Number.isInteger(nLayers) || nLayers < 1) {
    const what = arch.layerCount.kind === 'name' ? ` (\`${arch.layerCount.name}\`)` : '';
    throw new SmeltError('SPEC204', `\`graph.layers\`${what} must be a whole number ≥ 1, ` +
      `got ${nLayers}`, arch.layerCount.loc);
  }
  for (let layer = 0; layer < nLayers; layer++) {
    const local: Scope = new Map();
    addWeights(b, arch.layerWeights, env, local, slots, layer);
    for (const s of arch.layerStates) {
      const name = `layers.${layer}.${s.name}`;
      const shape = concrete(s.shape, env, `state \`${s.name}\``);
      local.set(s.name, b.leaf('state', name, { dtype: 'f32', shape }));
      states.push({ name, shape });
    }
    const scopes: Scopes = { values, lookup: [local, values, weights, inputs] };
    for (const stmt of arch.layer) apply(b, stmt, scopes, env);
  }
  for (const stmt of arch.epilogue) apply(b, stmt, outer, env);

  const outputs = arch.outputs.map((o) => {
    const id = values.get(o.name);
    if (id === undefined) {
      throw new SmeltError('SPEC205', `output \`${o.name}\` is never assigned`, o.loc);
    }
    return id;
  });
  return { graph: b.finish(outputs), env, slots, states };
}
