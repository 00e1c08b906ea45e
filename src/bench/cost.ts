// The work a forward step does, node by node: floating-point operations and bytes moved,
// for the roofline of `smelt bench`. Counted from the fused graph (the one the kernels
// compute), for a step of `n` tokens whose first position is `pos`.
//
// Conventions: an FMA is 2 FLOPs; exp/sqrt/divide count as one. Bytes are what a kernel
// must read and write at least once (operands, weights, KV-cache rows, results), not what
// it re-reads from cache. `weightBytes` is the part read from weight tensors: the figure
// decode speed is bound by. Weights are f32 (4 bytes) unless `bytesPerWeight` says else.

import type { Graph, Node } from '../../ir/graph.js';
import { assertNever } from '../../ir/diagnostics.js';

export interface Cost {
  flops: number;
  bytes: number;
  weightBytes: number;
}

export const ZERO: Cost = { flops: 0, bytes: 0, weightBytes: 0 };

export function addCost(a: Cost, b: Cost): Cost {
  return { flops: a.flops + b.flops, bytes: a.bytes + b.bytes,
    weightBytes: a.weightBytes + b.weightBytes };
}

/** Bytes per stored element of a weight leaf, by leaf name; f32 by default. */
export type WeightBytes = (name: string) => number;

const F32 = 4;

/** Elements of a node's result with `seq` bound to n. */
function numel(node: Node, n: number): number {
  return node.type.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : n), 1);
}

function lastDim(node: Node): number {
  return node.type.shape[node.type.shape.length - 1] as number;
}

/** The cost of one node in a step of n tokens at positions pos..pos+n-1. */
export function nodeCost(graph: Graph, node: Node, n: number, pos: number,
  bytesPerWeight: WeightBytes = () => F32): Cost {
  const operand = (i: number) => graph.nodes[node.inputs[i]!]!;
  const weight = (i: number) => {
    const w = operand(i);
    return numel(w, n) * (w.op === 'weight' ? bytesPerWeight(w.name!) : F32);
  };
  const out = numel(node, n);
  const elementwise = (flopsPerElement: number, reads: number): Cost =>
    ({ flops: out * flopsPerElement, bytes: out * F32 * (reads + 1), weightBytes: 0 });
  // x [n, k] · w [out, k]: 2·n·out·k FLOPs, the whole weight read once
  const matmul = (x: Node, weights: number[], extraFlops: number, extraBytes: number): Cost => {
    const k = lastDim(x);
    const w = weights.reduce((s, i) => s + weight(i), 0);
    return { flops: 2 * out * k * weights.length + extraFlops,
      bytes: w + (n * k + out) * F32 + extraBytes, weightBytes: w };
  };
  switch (node.op) {
    case 'input':
    case 'weight':
    case 'state':
      return ZERO;
    case 'embed':
      return { flops: 0, bytes: 2 * out * F32, weightBytes: out * F32 };
    case 'rmsnorm':
      return { flops: 4 * out, bytes: (2 * out + lastDim(node)) * F32, weightBytes: 0 };
    case 'matmul':
      return matmul(operand(0), [1], 0, 0);
    case 'rms_matmul':
      return matmul(operand(0), [2], 3 * numel(operand(0), n), 0);
    case 'matmul_add':
      return matmul(operand(0), [1], out, out * F32);
    case 'rope_table': // per token and pair: an angle, a cos and a sin
      return { flops: 20 * out, bytes: out * F32, weightBytes: 0 };
    case 'rms_matmul_rope': // the rotation reads the table row and turns the output in place
      return matmul(operand(0), [2], 3 * numel(operand(0), n) + 3 * out,
        numel(operand(3), n) * F32);
    case 'rms_matmul_bias_rope':
      return matmul(operand(0), [2], 3 * numel(operand(0), n) + 4 * out,
        (lastDim(node) + numel(operand(4), n)) * F32);
    case 'matmul_bias':
      return matmul(operand(0), [1], out, lastDim(node) * F32);
    case 'matmul_bias_add':
      return matmul(operand(0), [1], 2 * out, (out + lastDim(node)) * F32);
    case 'rms_matmul_bias':
      return matmul(operand(0), [2], 3 * numel(operand(0), n) + out, lastDim(node) * F32);
    case 'swiglu_matmul':
      return matmul(operand(0), [2, 3], 3 * numel(operand(0), n) + 6 * out, 0);
    case 'rope':
      return elementwise(3, 1);
    case 'kv_write':
      return { flops: 0, bytes: 2 * numel(operand(1), n) * F32, weightBytes: 0 };
    case 'attention':
      return attention(node, operand(1), n, pos);
    case 'attention_kv': // the two kv_writes, then the attention
      return addCost({ flops: 0, bytes: 4 * numel(operand(1), n) * F32, weightBytes: 0 },
        attention(node, operand(3), n, pos));
    case 'silu':
      return elementwise(4, 1);
    case 'mul':
    case 'add':
      return elementwise(1, 2);
    case 'layernorm':
      return { flops: 7 * out, bytes: (2 * out + 2 * lastDim(node)) * F32, weightBytes: 0 };
    case 'add_bias':
      return elementwise(1, 1);
    case 'scale':
      return elementwise(1, 1);
    case 'softcap':
      return elementwise(3, 1);
    case 'gelu':
      return elementwise(8, 1);
    case 'pos_embed': // x + table[pos + t]
      return { flops: out, bytes: 3 * out * F32, weightBytes: out * F32 };
    case 'slice':
      return elementwise(0, 1);
    case 'moe':
      return moe(node, operand(0), operand(1), operand(2), n, bytesPerWeight);
    default:
      return assertNever(node.op, 'op');
  }
}

/**
 * Mixture of experts: the router matmul, then per token top_k experts' SwiGLU FFNs (three
 * [hidden, dim] matrices each). Weight bytes: the router plus the experts the step's tokens
 * can reach — at most min(experts, n · top_k) of them.
 */
function moe(node: Node, x: Node, router: Node, gate: Node, n: number,
  bytesPerWeight: WeightBytes): Cost {
  const dim = lastDim(x);
  const [experts, hidden] = gate.type.shape as [number, number, number];
  const k = node.attrs.top_k as number;
  const perExpert = 3 * hidden * dim;
  const routerBytes = experts * dim * bytesPerWeight(router.name!);
  const reached = Math.min(experts, n * k);
  const weightBytes = routerBytes + reached * perExpert * bytesPerWeight(gate.name!);
  return { flops: 2 * n * (experts * dim + k * perExpert), weightBytes,
    bytes: weightBytes + 2 * n * dim * F32 };
}

/**
 * Causal attention: token t attends over pos+t+1 positions; each position costs a q·k and
 * a p·v dot product per head (4·head_size FLOPs) plus the softmax; the K and V rows up to
 * pos+n are read once (heads of a group share them).
 */
function attention(node: Node, cache: Node, n: number, pos: number): Cost {
  const heads = node.attrs.n_heads as number;
  const headSize = lastDim(node) / heads;
  const kvDim = lastDim(cache);
  const attended = n * pos + (n * (n + 1)) / 2;
  return {
    flops: heads * attended * (4 * headSize + 5),
    bytes: (2 * (pos + n) * kvDim + 2 * n * heads * headSize) * F32,
    weightBytes: 0,
  };
}

/** The cost of a whole step: every node of the graph. */
export function stepCost(graph: Graph, n: number, pos: number,
  bytesPerWeight?: WeightBytes): Cost {
  return graph.nodes.reduce((sum, node) => addCost(sum, nodeCost(graph, node, n, pos,
    bytesPerWeight)), ZERO);
}

/** A prompt of `tokens` fed in chunks of at most `chunk` tokens, as the backends feed it. */
export function chunks(tokens: number, chunk: number): { n: number; pos: number }[] {
  const out: { n: number; pos: number }[] = [];
  for (let pos = 0; pos < tokens; pos += chunk) out.push({ n: Math.min(chunk, tokens - pos), pos });
  return out;
}
