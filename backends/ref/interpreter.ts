// The reference interpreter: runs the graph IR node by node in plain TypeScript.
//
// It is the oracle every other backend and every pass is tested against, so it favours
// being obviously right over being fast: one kernel call per node, f64 sums, fresh
// arrays for every result. Only states (KV caches) persist between steps.

import { InternalError, assertNever } from '../../ir/diagnostics.js';
import type { Graph, Node } from '../../ir/graph.js';
import type { Backend, CompileInput, Executable } from '../types.js';
import { contextLimit, tokenLimit } from '../../ir/graph.js';
import { checkStep } from '../types.js';
import { ropeFrequencies } from '../../ir/rope.js';
import * as k from './kernels.js';

type Tensor = Float32Array | Int32Array;

function dims(node: Node): number[] {
  return node.type.shape.map((d) => (typeof d === 'number' ? d : -1));
}

class Interpreter implements Executable {
  readonly maxContext: number;
  private readonly vocab: number;
  private readonly states = new Map<string, Float32Array>();

  constructor(private readonly input: CompileInput) {
    const { graph } = input;
    for (const s of input.states) {
      this.states.set(s.name, new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    }
    this.maxContext = contextLimit(graph, input.states);
    this.vocab = tokenLimit(graph);
    for (const node of graph.nodes) {
      if (node.op === 'weight' && !input.weights.has(node.name!)) {
        throw new InternalError('ref backend', `no data for weight ${node.name}`);
      }
    }
  }

  private get graph(): Graph {
    return this.input.graph;
  }

  reset(): void {
    for (const s of this.states.values()) s.fill(0);
  }

  forward(tokens: Int32Array, pos: number): Float32Array {
    checkStep(tokens, pos, this.vocab, this.maxContext);
    const values: Tensor[] = [];
    for (const node of this.graph.nodes) values.push(this.run(node, values, tokens, pos));
    return values[this.graph.outputs[0]!] as Float32Array;
  }

  private run(node: Node, values: Tensor[], tokens: Int32Array, pos: number): Tensor {
    const seq = tokens.length;
    const x = (i: number) => values[node.inputs[i]!] as Float32Array;
    const operand = (i: number) => this.graph.nodes[node.inputs[i]!]!;
    // rows pos .. pos + seq of a cache get x (kv_write); the cache is updated in place
    const write = (cache: Float32Array, rows: Float32Array) => {
      cache.set(rows, pos * (rows.length / seq));
      return cache;
    };
    switch (node.op) {
      case 'input':
        return tokens;
      case 'weight':
        return this.input.weights.get(node.name!)!;
      case 'state':
        return this.states.get(node.name!)!;
      case 'embed': {
        const [vocab, dim] = dims(operand(0));
        return k.embed(x(0), values[node.inputs[1]!] as Int32Array, dim!, vocab!);
      }
      case 'rmsnorm':
        return k.rmsnorm(x(0), x(1), seq, dims(operand(1))[0]!, node.attrs.eps as number,
          (node.attrs.gain_offset as number | undefined) ?? 0);
      case 'matmul': {
        const [n, kk] = dims(operand(1));
        return k.matmul(x(0), x(1), seq, n!, kk!);
      }
      case 'rope': {
        const width = dims(node)[1]!;
        return k.rope(x(0), seq, width, node.attrs.head_size as number,
          ropeFrequencies(node.attrs), pos);
      }
      case 'kv_write':
        return write(x(0), x(1));
      case 'attention':
      case 'attention_kv': {
        const nHeads = node.attrs.n_heads as number;
        const [q, keys, values] = node.op === 'attention' ? [x(0), x(1), x(2)]
          : [x(0), write(x(3), x(1)), write(x(4), x(2))];
        return k.attention(q, keys, values, {
          seq, pos, nHeads, nKvHeads: node.attrs.n_kv_heads as number,
          headSize: dims(node)[1]! / nHeads, window: (node.attrs.window as number) ?? 0,
        });
      }
      case 'silu':
        return k.silu(x(0));
      case 'mul':
        return k.mul(x(0), x(1));
      case 'add':
        return k.add(x(0), x(1));
      case 'layernorm':
        return k.layernorm(x(0), x(1), x(2), seq, dims(operand(1))[0]!, node.attrs.eps as number);
      case 'add_bias':
        return k.addBias(x(0), x(1));
      case 'gelu':
        return k.gelu(x(0));
      case 'pos_embed':
        return k.posEmbed(x(0), x(1), dims(node)[1]!, pos);
      case 'slice':
        return k.slice(x(0), seq, dims(operand(0))[1]!, node.attrs.start as number,
          node.attrs.size as number);
      case 'scale':
        return k.scale(x(0), node.attrs.by as number);
      case 'softcap':
        return k.softcap(x(0), node.attrs.cap as number);
      case 'moe': {
        const [experts, hidden, dim] = dims(operand(2));
        return k.moe(x(0), x(1), x(2), x(3), x(4), { seq, dim: dim!, experts: experts!,
          hidden: hidden!, topK: node.attrs.top_k as number,
          normTopK: node.attrs.norm_topk !== false });
      }
      case 'rms_matmul': {
        const [n, kk] = dims(operand(2));
        const h = k.rmsnorm(x(0), x(1), seq, kk!, node.attrs.eps as number);
        return k.matmul(h, x(2), seq, n!, kk!);
      }
      case 'rope_table':
        return k.ropeTable(seq, ropeFrequencies(node.attrs), pos);
      case 'rms_matmul_rope': {
        const [n, kk] = dims(operand(2));
        const h = k.rmsnorm(x(0), x(1), seq, kk!, node.attrs.eps as number);
        return k.ropeFromTable(k.matmul(h, x(2), seq, n!, kk!), seq, n!,
          node.attrs.head_size as number, x(3), node.attrs.neox === true);
      }
      case 'rms_matmul_bias_rope': {
        const [n, kk] = dims(operand(2));
        const h = k.rmsnorm(x(0), x(1), seq, kk!, node.attrs.eps as number);
        return k.ropeFromTable(k.addBias(k.matmul(h, x(2), seq, n!, kk!), x(3)), seq, n!,
          node.attrs.head_size as number, x(4), node.attrs.neox === true);
      }
      case 'matmul_bias': {
        const [n, kk] = dims(operand(1));
        return k.addBias(k.matmul(x(0), x(1), seq, n!, kk!), x(2));
      }
      case 'matmul_bias_add': {
        const [n, kk] = dims(operand(1));
        return k.add(k.addBias(k.matmul(x(0), x(1), seq, n!, kk!), x(3)), x(2));
      }
      case 'rms_matmul_bias': {
        const [n, kk] = dims(operand(2));
        const h = k.rmsnorm(x(0), x(1), seq, kk!, node.attrs.eps as number);
        return k.addBias(k.matmul(h, x(2), seq, n!, kk!), x(3));
      }
      case 'matmul_add': {
        const [n, kk] = dims(operand(1));
        return k.add(k.matmul(x(0), x(1), seq, n!, kk!), x(2));
      }
      case 'swiglu_matmul': {
        const [n, kk] = dims(operand(2));
        const h = k.rmsnorm(x(0), x(1), seq, kk!, node.attrs.eps as number);
        return k.mul(k.silu(k.matmul(h, x(2), seq, n!, kk!)), k.matmul(h, x(3), seq, n!, kk!));
      }
      default:
        return assertNever(node.op, 'op');
    }
  }
}

export const refBackend: Backend = {
  name: 'ref',
  description: 'reference interpreter in TypeScript (the oracle; slow)',
  async compile(input) {
    return new Interpreter(input);
  },
};
