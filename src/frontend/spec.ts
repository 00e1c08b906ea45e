// The architecture spec: hyperparameters, weights, states and the block's dataflow.
//
// `loadArchitecture` checks the file's structure (fields, types, expressions, statements),
// the declared names (`names.ts`) and the format maps (`format-check.ts`); graph-level
// checks (ops, arity, shapes, operands) happen when the graph is built for a set of
// numbers, in `build.ts`, because shapes depend on them.

import type { SourceLocation } from '../../ir/diagnostics.js';
import type { Expr, Value } from './expr.js';
import { parseExpr } from './expr.js';
import type { FormatMaps } from './formats.js';
import { loadFormats } from './formats.js';
import { checkFormats } from './format-check.js';
import { checkDeclarations } from './names.js';
import type { SpecSource, YamlNode } from './source.js';
import { isScalar } from './source.js';
import type { Statement } from './statement.js';
import { parseStatement } from './statement.js';

export type ParamType = 'int' | 'number' | 'bool';

export interface ParamDecl {
  name: string;
  type: ParamType;
  default?: Value;
  loc: SourceLocation;
}

/** A shape dim: a hyperparameter expression, or the symbolic `seq`. */
export interface DimExpr {
  text: string;
  expr: Expr | 'seq';
  loc: SourceLocation;
}

export type InitKind = 'normal' | 'residual' | 'ones' | 'zeros';

export interface WeightDecl {
  name: string;
  shape: DimExpr[];
  init: InitKind;
  /** Alias of another weight when `when` holds (tied embeddings). */
  tiedTo?: { name: string; loc: SourceLocation };
  when?: Expr;
  loc: SourceLocation;
}

export interface TensorDecl {
  name: string;
  shape: DimExpr[];
  loc: SourceLocation;
}

export interface ArchSpec {
  file: string;
  name: string;
  params: ParamDecl[];
  derived: { name: string; expr: Expr; loc: SourceLocation }[];
  weights: WeightDecl[];
  layerWeights: WeightDecl[];
  layerStates: TensorDecl[];
  inputs: TensorDecl[];
  prologue: Statement[];
  /** How many times `layer` repeats. */
  layerCount: Expr;
  layer: Statement[];
  epilogue: Statement[];
  outputs: { name: string; loc: SourceLocation }[];
  formats: FormatMaps;
}

const ARCH_KEYS = ['architecture', 'params', 'derived', 'weights', 'layer_weights',
  'layer_states', 'graph', 'formats'] as const;
const GRAPH_KEYS = ['inputs', 'prologue', 'layers', 'layer', 'epilogue', 'outputs'] as const;
const WEIGHT_KEYS = ['shape', 'init', 'tied_to', 'when'] as const;
const INITS: readonly InitKind[] = ['normal', 'residual', 'ones', 'zeros'];

/** An expression written as a YAML scalar (a number or a string like `dim / n_heads`). */
export function scalarExpr(src: SpecSource, node: YamlNode | undefined, what: string): Expr {
  const value = src.scalar(node, what);
  if (typeof value === 'number') return { kind: 'num', value, loc: src.where(node) };
  if (typeof value === 'boolean') return { kind: 'bool', value, loc: src.where(node) };
  const quote = src.text[node!.range![0]] === '"' || src.text[node!.range![0]] === "'" ? 1 : 0;
  return parseExpr(value, (from, len) => src.where(node, quote + from, len));
}

function loadShape(src: SpecSource, node: YamlNode | undefined, what: string): DimExpr[] {
  return src.seq(node, `shape of ${what}`).items.map((item) => {
    const loc = src.where(item);
    const text = String(src.scalar(item, `a dim of ${what}`));
    const expr = text === 'seq' ? 'seq' : scalarExpr(src, item, `a dim of ${what}`);
    return { text, expr, loc };
  });
}

/** `int` for an integer literal (`10000`, `0x10`), `number` for any other (`10000.0`, `1e-5`). */
function literalType(src: SpecSource, node: YamlNode): ParamType {
  const text = src.text.slice(node.range![0], node.range![1]);
  return /^[-+]?(\d+|0x[\da-fA-F]+|0o[0-7]+)$/.test(text) ? 'int' : 'number';
}

function loadParams(src: SpecSource, node: YamlNode | undefined): ParamDecl[] {
  return src.entries(src.map(node, '`params`')).map(({ key, keyNode, value }) => {
    const v = src.scalar(value, `param \`${key}\``);
    const loc = src.where(keyNode);
    if (v === 'int' || v === 'number' || v === 'bool') return { name: key, type: v, loc };
    if (typeof v === 'boolean') return { name: key, type: 'bool', default: v, loc };
    if (typeof v === 'number') return { name: key, type: literalType(src, value), default: v, loc };
    throw src.error('SPEC102',
      `param \`${key}\` must be \`int\`, \`number\`, \`bool\` or a default value, got \`${v}\``,
      value);
  });
}

function loadWeight(src: SpecSource, name: string, keyNode: YamlNode, node: YamlNode): WeightDecl {
  const what = `weight \`${name}\``;
  const map = src.map(node, what);
  src.onlyKeys(map, WEIGHT_KEYS, what);
  const shape = loadShape(src, src.field(map, 'shape', what), what);
  const initNode = src.optional(map, 'init');
  const init = (initNode ? src.string(initNode, `init of ${what}`) : 'normal') as InitKind;
  if (!INITS.includes(init)) {
    throw src.error('SPEC102', `init of ${what} must be one of ${INITS.join(', ')}, got ${init}`,
      initNode);
  }
  const decl: WeightDecl = { name, shape, init, loc: src.where(keyNode) };
  const tied = src.optional(map, 'tied_to');
  if (tied) decl.tiedTo = { name: src.string(tied, `tied_to of ${what}`), loc: src.where(tied) };
  const when = src.optional(map, 'when');
  if (when && !tied) {
    throw src.error('SPEC101', `${what} has a \`when\` but no \`tied_to\`: \`when\` says when ` +
      'a tie holds', src.keyNode(map, 'when'));
  }
  if (when) decl.when = scalarExpr(src, when, `when of ${what}`);
  return decl;
}

function loadWeights(src: SpecSource, node: YamlNode | undefined, what: string): WeightDecl[] {
  if (node === undefined) return [];
  return src.entries(src.map(node, what))
    .map(({ key, keyNode, value }) => loadWeight(src, key, keyNode, value));
}

function loadTensors(src: SpecSource, node: YamlNode | undefined, what: string): TensorDecl[] {
  if (node === undefined) return [];
  return src.entries(src.map(node, what)).map(({ key, keyNode, value }) => ({
    name: key,
    shape: loadShape(src, value, `\`${key}\``),
    loc: src.where(keyNode),
  }));
}

function loadStatements(src: SpecSource, node: YamlNode | undefined, what: string): Statement[] {
  if (node === undefined) return [];
  return src.seq(node, what).items.map((item) => {
    const text = src.string(item, `a statement of ${what}`);
    const quote = isScalar(item) && item.type !== 'PLAIN' ? 1 : 0;
    const at = sourceOffsets(src.text.slice(item.range![0] + quote, item.range![1]), text);
    return parseStatement(text, (from, len) => src.where(item, quote + at(from), len));
  });
}

/**
 * Maps an offset in a scalar's value to an offset in its source text. They differ when a
 * long statement is continued on the next lines: YAML folds each line break and the
 * indentation after it into one space.
 */
function sourceOffsets(raw: string, value: string): (offset: number) => number {
  if (!raw.includes('\n')) return (offset) => offset;
  const map: number[] = [];
  for (let i = 0; i < raw.length && map.length < value.length; i++) {
    if (raw[i] === '\n') {
      while (map.length > 0 && /[ \t]/.test(raw[map[map.length - 1]!] ?? '')) map.pop();
      map.push(i);
      while (i + 1 < raw.length && /[ \t]/.test(raw[i + 1]!)) i++;
    } else {
      map.push(i);
    }
  }
  return (offset) => map[offset] ?? offset;
}

export function loadArchitecture(src: SpecSource): ArchSpec {
  const root = src.map(src.root, 'an architecture spec');
  src.onlyKeys(root, ARCH_KEYS, 'an architecture spec');
  const graph = src.map(src.field(root, 'graph', 'an architecture spec'), '`graph`');
  src.onlyKeys(graph, GRAPH_KEYS, '`graph`');
  const derivedNode = src.optional(root, 'derived');
  const outputsNode = src.field(graph, 'outputs', '`graph`');
  const arch: ArchSpec = {
    file: src.file,
    name: src.string(src.field(root, 'architecture', 'an architecture spec'), '`architecture`'),
    params: loadParams(src, src.field(root, 'params', 'an architecture spec')),
    derived: derivedNode === undefined ? [] :
      src.entries(src.map(derivedNode, '`derived`')).map(({ key, keyNode, value }) => ({
        name: key, expr: scalarExpr(src, value, `derived \`${key}\``), loc: src.where(keyNode),
      })),
    weights: loadWeights(src, src.optional(root, 'weights'), '`weights`'),
    layerWeights: loadWeights(src, src.optional(root, 'layer_weights'), '`layer_weights`'),
    layerStates: loadTensors(src, src.optional(root, 'layer_states'), '`layer_states`'),
    inputs: loadTensors(src, src.field(graph, 'inputs', '`graph`'), '`graph.inputs`'),
    prologue: loadStatements(src, src.optional(graph, 'prologue'), '`graph.prologue`'),
    layerCount: scalarExpr(src, src.field(graph, 'layers', '`graph`'), '`graph.layers`'),
    layer: loadStatements(src, src.optional(graph, 'layer'), '`graph.layer`'),
    epilogue: loadStatements(src, src.optional(graph, 'epilogue'), '`graph.epilogue`'),
    outputs: src.seq(outputsNode, '`graph.outputs`').items.map((item) => ({
      name: src.string(item, 'an output name'), loc: src.where(item),
    })),
    formats: loadFormats(src, src.optional(root, 'formats')),
  };
  checkDeclarations(arch);
  checkFormats(arch);
  return arch;
}
