// The graph IR: a list of nodes in topological order, each producing one tensor.
//
// Invariants (checked by `verify`): node ids equal their index; every operand id is
// smaller than the node's own id; leaf nodes (`input`, `weight`, `state`) have a `name`
// and no operands; every other node's type is what `OP_TABLE[op].infer` gives for its
// operands. Names of weights and states are unique. Layers are unrolled: layer i's
// weights are named `layers.i.<name>`.

import type { SourceLocation } from './diagnostics.js';
import { InternalError } from './diagnostics.js';
import type { Attrs, OpKind } from './ops.js';
import type { ShapeError } from './ops.js';
import { OP_TABLE, isShapeError } from './ops.js';
import type { TensorType } from './types.js';
import { formatType } from './types.js';

export interface Node {
  readonly id: number;
  readonly op: OpKind;
  readonly inputs: readonly number[];
  readonly type: TensorType;
  readonly attrs: Attrs;
  /** Leaf name (weight/state/input), or the spec value the node was assigned to. */
  readonly name?: string;
  /** Where in the spec this node came from, for diagnostics. */
  readonly loc?: SourceLocation;
}

export interface Graph {
  readonly nodes: readonly Node[];
  /** Result nodes, in order; `logits` first for language models. */
  readonly outputs: readonly number[];
}

/** Appends nodes in order, inferring each result type from its operands. */
export class GraphBuilder {
  private readonly nodes: Node[] = [];
  private readonly leafNames = new Set<string>();

  leaf(op: 'input' | 'weight' | 'state', name: string, type: TensorType): number {
    if (this.leafNames.has(name)) {
      throw new InternalError('GraphBuilder', `duplicate ${op} name ${name}`);
    }
    this.leafNames.add(name);
    return this.push({ op, inputs: [], type, attrs: {}, name });
  }

  /** Adds a compute node; returns its id, or the shape-rule message when operands are wrong. */
  apply(
    op: OpKind,
    inputs: number[],
    attrs: Attrs,
    extra: { name?: string; loc?: SourceLocation } = {},
  ): number | ShapeError {
    const type = OP_TABLE[op].infer(inputs.map((i) => this.type(i)), attrs);
    if (isShapeError(type)) return type;
    return this.push({ op, inputs, type, attrs, ...extra });
  }

  type(id: number): TensorType {
    return this.node(id).type;
  }

  node(id: number): Node {
    const node = this.nodes[id];
    if (!node) throw new InternalError('GraphBuilder', `no node %${id}`);
    return node;
  }

  finish(outputs: number[]): Graph {
    return { nodes: [...this.nodes], outputs };
  }

  private push(fields: Omit<Node, 'id'>): number {
    const id = this.nodes.length;
    this.nodes.push({ id, ...fields });
    return id;
  }
}

/** How many token ids the graph's embedding tables accept (the vocabulary size). */
export function tokenLimit(graph: Graph): number {
  let limit = Infinity;
  for (const node of graph.nodes) {
    if (node.op !== 'embed') continue;
    const rows = graph.nodes[node.inputs[0]!]!.type.shape[0];
    if (typeof rows === 'number') limit = Math.min(limit, rows);
  }
  return limit;
}

/**
 * The most positions a run may reach: the rows of every state (KV cache) and of every
 * learned position table (`pos_embed`), whichever is fewest.
 */
export function contextLimit(graph: Graph, states: readonly { shape: readonly number[] }[]) {
  let limit = Math.min(...states.map((s) => s.shape[0]!));
  for (const node of graph.nodes) {
    if (node.op !== 'pos_embed') continue;
    const rows = graph.nodes[node.inputs[1]!]!.type.shape[0];
    if (typeof rows === 'number') limit = Math.min(limit, rows);
  }
  return limit;
}

/** Width of a row of the first graph output: the vocabulary for a language model. */
export function outputWidth(graph: Graph): number {
  const shape = graph.nodes[graph.outputs[0]!]!.type.shape;
  return shape[shape.length - 1] as number;
}

export function describeNode(node: Node): string {
  const name = node.name ? ` (${node.name})` : '';
  return `%${node.id} ${node.op}${name} : ${formatType(node.type)}`;
}
