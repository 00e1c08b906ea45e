// The one deterministic printer of the graph IR: dumps, verifier errors and snapshots.
//
//   %4 = rmsnorm %2, %3 {eps=0.00001} : f32[seq, 64]  # h
//
// One node per line; attributes sorted by key; the trailing comment is the spec value name.

import type { Graph, Node } from './graph.js';
import { formatType } from './types.js';

function formatAttrs(node: Node): string {
  const keys = Object.keys(node.attrs).sort();
  if (keys.length === 0) return '';
  return ` {${keys.map((k) => `${k}=${node.attrs[k]}`).join(', ')}}`;
}

export function printNode(node: Node): string {
  const type = formatType(node.type);
  if (node.inputs.length === 0) return `%${node.id} = ${node.op} ${node.name} : ${type}`;
  const operands = node.inputs.map((i) => `%${i}`).join(', ');
  const comment = node.name ? `  # ${node.name}` : '';
  return `%${node.id} = ${node.op} ${operands}${formatAttrs(node)} : ${type}${comment}`;
}

export function printGraph(graph: Graph): string {
  const lines = graph.nodes.map(printNode);
  lines.push(`return ${graph.outputs.map((i) => `%${i}`).join(', ')}`);
  return lines.join('\n') + '\n';
}
