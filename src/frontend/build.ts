// Builds the graph IR of an architecture for one set of hyperparameters.
//
// Layers are unrolled: layer i's weights and states become leaves named `layers.i.<name>`.
// Names in statements resolve, innermost first, to: the current layer's weights and
// states, values assigned so far (a later assignment rebinds a name, as `x = add(x, o)`
// does), model weights, then graph inputs. Every mistake is a located SPEC2xx error.

import type { Graph } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import type { AttrValue } from '../../ir/ops.js';
import { OP_KINDS, OP_TABLE, isComputeOp, isOpKind } from '../../ir/ops.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Dim } from '../../ir/types.js';
import type { Env } from './expr.js';
import { evalDim, evalExpr } from './expr.js';
import type { ArchSpec, DimExpr, WeightDecl } from './spec.js';
import type { Statement } from './statement.js';

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
      : typeof value === 'number' && (spec.type === 'number' || Number.isInteger(value));
    if (!ok) {
      throw new SmeltError('SPEC207',
        `${op}: attribute \`${a.key}\` must be ${spec.type === 'int' ? 'an int' : `a ${spec.type}`}` +
        `, got ${value}`, a.value.loc);
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

/** Adds one statement's node; `scopes[0]` holds assigned values, the rest are read-only. */
function apply(b: GraphBuilder, stmt: Statement, scopes: Scope[], env: Env): void {
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
  const inputs = stmt.operands.map((o) => {
    const id = scopes.map((s) => s.get(o.name)).find((i) => i !== undefined);
    if (id === undefined) {
      throw new SmeltError('SPEC205', `${opName}: operand \`${o.name}\` is not defined`, o.loc);
    }
    return id;
  });
  const result = b.apply(opName, inputs, attrsOf(stmt, opName, env),
    { name: stmt.out.name, loc: stmt.loc });
  if (typeof result !== 'number') {
    const at = result.operand ? info.operands.indexOf(result.operand) : -1;
    throw new SmeltError('SPEC203', result.error, at >= 0 ? stmt.operands[at]!.loc : stmt.op.loc);
  }
  if (scopes.slice(1).some((s) => s.has(stmt.out.name))) {
    throw new SmeltError('SPEC205', `\`${stmt.out.name}\` is a weight, state or input and cannot ` +
      'be assigned', stmt.out.loc);
  }
  scopes[0]!.set(stmt.out.name, result);
}

function addWeights(b: GraphBuilder, decls: WeightDecl[], env: Env, scope: Scope,
  slots: WeightSlot[], layer?: number): void {
  for (const decl of decls) {
    const tied = decl.tiedTo && (decl.when === undefined || evalExpr(decl.when, env) === true);
    if (tied) {
      const target = scope.get(decl.tiedTo!.name);
      if (target === undefined) {
        throw new SmeltError('SPEC205', `\`${decl.name}\` is tied to \`${decl.tiedTo!.name}\`, ` +
          'which is not a weight declared before it', decl.tiedTo!.loc);
      }
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
  const globals: Scope = new Map();
  const values: Scope = new Map();
  const slots: WeightSlot[] = [];
  const states: { name: string; shape: number[] }[] = [];

  // inputs and model weights
  for (const input of arch.inputs) {
    globals.set(input.name, b.leaf('input', input.name,
      { dtype: 'i32', shape: evalShape(input.shape, env) }));
  }
  addWeights(b, arch.weights, env, globals, slots);

  // prologue, then every layer with its own weights and states, then epilogue
  for (const stmt of arch.prologue) apply(b, stmt, [values, globals], env);
  const nLayers = evalExpr(arch.layerCount, env);
  if (typeof nLayers !== 'number' || !Number.isInteger(nLayers) || nLayers < 0) {
    throw new SmeltError('SPEC204', `\`graph.layers\` must be a whole number, got ${nLayers}`,
      arch.layerCount.loc);
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
    for (const stmt of arch.layer) apply(b, stmt, [values, local, globals], env);
  }
  for (const stmt of arch.epilogue) apply(b, stmt, [values, globals], env);

  const outputs = arch.outputs.map((o) => {
    const id = values.get(o.name);
    if (id === undefined) {
      throw new SmeltError('SPEC205', `output \`${o.name}\` is never assigned`, o.loc);
    }
    return id;
  });
  return { graph: b.finish(outputs), env, slots, states };
}
