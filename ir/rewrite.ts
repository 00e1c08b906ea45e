// Graph rewriting for passes: replace nodes, drop what nothing reads, renumber.
//
// A replacement takes the place (and the position) of an existing node; its operands are
// old node ids that come before that position. A pass may also insert new nodes, each
// just before an existing one, under a key of its own (>= the graph's node count) that
// replacements and later insertions may read. Compute nodes no output depends on are
// dropped; leaves are kept (weights must still be bound by name). Result types are
// inferred again from OP_TABLE, so a replacement cannot silently change a type.

import { InternalError } from './diagnostics.js';
import type { Graph, Node } from './graph.js';
import type { Attrs, OpKind } from './ops.js';
import { OP_TABLE, isComputeOp, isShapeError } from './ops.js';

export interface Replacement {
  op: OpKind;
  inputs: number[];
  attrs: Attrs;
}

/** A new node placed just before node `before`, read by others as operand `key`. */
export interface Insertion {
  key: number;
  before: number;
  node: Replacement;
  name?: string;
}

/** For every node, the ids of the nodes that read it (graph outputs read as -1). */
export function consumers(graph: Graph): number[][] {
  const users: number[][] = graph.nodes.map(() => []);
  for (const node of graph.nodes) for (const i of node.inputs) users[i]!.push(node.id);
  for (const out of graph.outputs) users[out]!.push(-1);
  return users;
}

function liveNodes(graph: Graph, replacements: ReadonlyMap<number, Replacement>,
  inserted: ReadonlyMap<number, Insertion>): Set<number> {
  const live = new Set<number>();
  const stack = [...graph.outputs];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...(replacements.get(id)?.inputs ?? inserted.get(id)?.node.inputs ??
      graph.nodes[id]!.inputs));
  }
  return live;
}

export function rewrite(graph: Graph, replacements: ReadonlyMap<number, Replacement>,
  pass: string, insertions: readonly Insertion[] = []): Graph {
  const inserted = new Map(insertions.map((i) => [i.key, i]));
  if (insertions.some((i) => i.key < graph.nodes.length)) {
    throw new InternalError(pass, 'an inserted node needs a key past the existing ids');
  }
  const live = liveNodes(graph, replacements, inserted);
  const newId = new Map<number, number>();
  const nodes: Node[] = [];
  const operands = (key: number, ids: readonly number[]) => ids.map((i) => {
    const id = newId.get(i);
    if (id === undefined) throw new InternalError(pass, `%${key} reads %${i}, not yet placed`);
    return id;
  });
  /** Places node `key` as `r` (types inferred again), or unchanged when there is no `r`. */
  const place = (key: number, r: Replacement | undefined, base: Partial<Node> & { inputs:
    readonly number[] }) => {
    const id = nodes.length;
    const inputs = operands(key, r?.inputs ?? base.inputs);
    if (!r) {
      nodes.push({ ...base as Node, id, inputs });
    } else {
      const type = OP_TABLE[r.op].infer(inputs.map((i) => nodes[i]!.type), r.attrs);
      if (isShapeError(type)) throw new InternalError(pass, `%${key} → ${r.op}: ${type.error}`);
      nodes.push({ ...base, id, op: r.op, inputs, attrs: r.attrs, type });
    }
    newId.set(key, id);
  };
  for (const old of graph.nodes) {
    for (const i of insertions) {
      if (i.before === old.id && live.has(i.key)) {
        place(i.key, i.node, { inputs: [], ...(i.name === undefined ? {} : { name: i.name }) });
      }
    }
    if (isComputeOp(old.op) && !live.has(old.id)) continue;
    place(old.id, replacements.get(old.id), old);
  }
  return { nodes, outputs: graph.outputs.map((o) => newId.get(o)!) };
}
