// The verifier: states which graphs are legal, and says exactly why one is not.
//
// A failure is an internal error (a pass or the frontend broke an invariant), so it names
// the stage, the node with its op, dtype and shape, and prints the whole graph.

import type { Graph, Node } from './graph.js';
import { describeNode } from './graph.js';
import { InternalError } from './diagnostics.js';
import { OP_TABLE, isComputeOp, isShapeError } from './ops.js';
import { printGraph } from './printer.js';
import { formatType, shapeEquals } from './types.js';

/** Problems with one node, or an empty list. */
function checkNode(graph: Graph, node: Node, index: number, leafNames: Set<string>): string[] {
  if (node.id !== index) return [`node at index ${index} has id ${node.id}`];
  if (node.inputs.some((i) => i < 0 || i >= index)) {
    return [`operand ids ${node.inputs.join(', ')} are not all earlier nodes`];
  }
  if (!isComputeOp(node.op)) {
    if (!node.name) return ['leaf without a name'];
    if (leafNames.has(node.name)) return [`duplicate leaf name ${node.name}`];
    leafNames.add(node.name);
    return node.inputs.length === 0 ? [] : ['leaf with operands'];
  }
  const info = OP_TABLE[node.op];
  if (node.inputs.length !== info.operands.length) {
    return [`has ${node.inputs.length} operands, ${node.op} takes ${info.operands.length}`];
  }
  const inferred = info.infer(node.inputs.map((i) => graph.nodes[i]!.type), node.attrs);
  if (isShapeError(inferred)) return [inferred.error];
  if (inferred.dtype !== node.type.dtype || !shapeEquals(inferred.shape, node.type.shape)) {
    return [`type is ${formatType(node.type)} but its operands give ${formatType(inferred)}`];
  }
  return [];
}

/** Throws an InternalError naming `stage` when the graph breaks an invariant. */
export function verify(graph: Graph, stage: string): void {
  const leafNames = new Set<string>();
  const problems: string[] = [];
  graph.nodes.forEach((node, index) => {
    for (const p of checkNode(graph, node, index, leafNames)) {
      problems.push(`${describeNode(node)}: ${p}`);
    }
  });
  for (const out of graph.outputs) {
    if (!graph.nodes[out]) problems.push(`output %${out} does not exist`);
  }
  if (problems.length > 0) {
    const detail = `graph is invalid after ${stage}:\n  ${problems.join('\n  ')}\n` +
      printGraph(graph);
    throw new InternalError(stage, detail);
  }
}
