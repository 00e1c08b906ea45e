// Graph rewriting for passes: replace nodes, drop what nothing reads, renumber.
//
// A replacement takes the place (and the position) of an existing node; its operands are
// old node ids that come before that position. Compute nodes no output depends on are
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

/** For every node, the ids of the nodes that read it (graph outputs read as -1). */
export function consumers(graph: Graph): number[][] {
  const users: number[][] = graph.nodes.map(() => []);
  for (const node of graph.nodes) for (const i of node.inputs) users[i]!.push(node.id);
  for (const out of graph.outputs) users[out]!.push(-1);
  return users;
}

function liveNodes(graph: Graph, replacements: ReadonlyMap<number, Replacement>): Set<number> {
  const live = new Set<number>();
  const stack = [...graph.outputs];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    stack.push(...(replacements.get(id)?.inputs ?? graph.nodes[id]!.inputs));
  }
  return live;
}

export function rewrite(graph: Graph, replacements: ReadonlyMap<number, Replacement>,
  pass: string): Graph {
  const live = liveNodes(graph, replacements);
  const newId = new Map<number, number>();
  const nodes: Node[] = [];
  for (const old of graph.nodes) {
    if (isComputeOp(old.op) && !live.has(old.id)) continue;
    const r = replacements.get(old.id);
    const inputs = (r?.inputs ?? old.inputs).map((i) => {
      const id = newId.get(i);
      if (id === undefined) throw new InternalError(pass, `%${old.id} reads %${i}, not yet placed`);
      return id;
    });
    const id = nodes.length;
    if (!r) {
      nodes.push({ ...old, id, inputs });
    } else {
      const type = OP_TABLE[r.op].infer(inputs.map((i) => nodes[i]!.type), r.attrs);
      if (isShapeError(type)) {
        throw new InternalError(pass, `%${old.id} → ${r.op}: ${type.error}`);
      }
      nodes.push({ ...old, id, op: r.op, inputs, attrs: r.attrs, type });
    }
    newId.set(old.id, id);
  }
  return { nodes, outputs: graph.outputs.map((o) => newId.get(o)!) };
}
