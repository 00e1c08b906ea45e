// The verifier: states which graphs are legal, and says exactly why one is not.
//
// A failure is an internal error (a pass or the frontend broke an invariant), so it names
// the stage, the node with its op, dtype and shape, and prints the whole graph. Legal: ids
// equal indices, operands come earlier, leaves are uniquely named with no operands, and a
// compute node has its op's arity, exactly its op's attributes with their types (required
// ones present), and the type its op's shape rule gives.

import type { Graph, Node } from './graph.js';
import { describeNode } from './graph.js';
import { InternalError } from './diagnostics.js';
import { OP_TABLE, isComputeOp, isShapeError } from './ops.js';
import { printGraph } from './printer.js';
import { formatType, shapeEquals } from './types.js';

/** Problems with a node's attributes against its op's table entry, or an empty list. */
function checkAttrs(node: Node): string[] {
  const specs = OP_TABLE[node.op].attrs;
  const problems: string[] = [];
  for (const [key, value] of Object.entries(node.attrs)) {
    const spec = specs[key];
    if (!spec) {
      problems.push(`unknown attribute ${key}`);
      continue;
    }
    const ok = spec.type === 'bool' ? typeof value === 'boolean'
      : typeof value === 'number' && (spec.type === 'number' || Number.isInteger(value));
    if (!ok) problems.push(`attribute ${key} must be ${spec.type}, got ${JSON.stringify(value)}`);
  }
  for (const [key, spec] of Object.entries(specs)) {
    if (spec.required && !(key in node.attrs)) problems.push(`missing attribute ${key}`);
  }
  return problems;
}

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
    if (node.inputs.length > 0) return ['leaf with operands'];
    return checkAttrs(node);
  }
  const info = OP_TABLE[node.op];
  if (node.inputs.length !== info.operands.length) {
    return [`has ${node.inputs.length} operands, ${node.op} takes ${info.operands.length}`];
  }
  const attrProblems = checkAttrs(node);
  if (attrProblems.length > 0) return attrProblems;
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
    // InternalError names the stage: `internal error in <stage>: the graph it produced ...`
    const detail = `the graph it produced is invalid:\n  ${problems.join('\n  ')}\n` +
      printGraph(graph);
    throw new InternalError(stage, detail);
  }
}
