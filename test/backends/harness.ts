// Builds one-op graphs for cross-backend tests: every operand comes from an `embed` of a
// random table (so the activations are real rows), and the op's result is the output.
import { expect } from '@jest/globals';
import { backendNamed } from '../../backends/index.js';
import type { CompileOptions } from '../../backends/index.js';
import { GraphBuilder } from '../../ir/graph.js';
import type { Attrs, OpKind } from '../../ir/ops.js';
import type { CompileInput } from '../../backends/index.js';
import { uniform } from '../../src/runtime/random.js';

export const VOCAB = 11;

export interface OpCase {
  name: string;
  input: CompileInput;
}

function random(n: number, seed: number): Float32Array {
  const next = uniform(seed);
  return Float32Array.from({ length: n }, () => next() * 2 - 1);
}

/** An operand: activations of a width (rows gathered from a random table), or a weight. */
export type Operand = { act: number } | { weight: number[] };

/** A graph computing `op` over activations of the given widths and weights of given shapes. */
export function opGraph(op: OpKind, activations: number[], weights: number[][], attrs: Attrs,
  states: number[][] = [], seed = 1, vocab = VOCAB): CompileInput {
  const operands: Operand[] = [...activations.map((act) => ({ act })),
    ...weights.map((weight) => ({ weight }))];
  return operandGraph(op, operands, attrs, states, seed, vocab);
}

/** Like opGraph, with the operands in any order. */
export function operandGraph(op: OpKind, specs: Operand[], attrs: Attrs,
  states: number[][] = [], seed = 1, vocab = VOCAB): CompileInput {
  const b = new GraphBuilder();
  const data = new Map<string, Float32Array>();
  const tokens = b.leaf('input', 'tokens', { dtype: 'i32', shape: ['seq'] });
  const operands = specs.map((spec, i) => {
    const shape = 'act' in spec ? [vocab, spec.act] : spec.weight;
    const id = b.leaf('weight', `w${i}`, { dtype: 'f32', shape });
    data.set(`w${i}`, random(shape.reduce((a, c) => a * c, 1), seed * 100 + i));
    return 'act' in spec ? b.apply('embed', [id, tokens], {}) as number : id;
  });
  const stateDecls = states.map((shape, i) => ({ name: `s${i}`, shape }));
  const stateIds = stateDecls.map((s) => b.leaf('state', s.name, { dtype: 'f32', shape: s.shape }));
  let out: number;
  if (op === 'attention') {
    // q, k, v activations; k and v go through the caches first
    const kc = b.apply('kv_write', [stateIds[0]!, operands[1]!], {}) as number;
    const vc = b.apply('kv_write', [stateIds[1]!, operands[2]!], {}) as number;
    out = b.apply('attention', [operands[0]!, kc, vc], attrs) as number;
  } else {
    // attention_kv takes the caches as its last operands
    const r = b.apply(op, op === 'attention_kv' ? [...operands, ...stateIds] : operands, attrs);
    if (typeof r !== 'number') throw new Error(r.error);
    out = r;
  }
  const graph = b.finish([out]);
  return { graph, states: stateDecls, weights: data };
}

/** Runs a 7-token step then a 1-token step (so `pos` matters); both outputs concatenated. */
export async function runTwoSteps(backend: string, input: CompileInput,
  options: Partial<CompileOptions> = {}): Promise<Float32Array> {
  const exe = await backendNamed(backend).compile(input, { threads: 1, ...options });
  const first = exe.forward(Int32Array.from([3, 1, 4, 1, 5, 9, 2].map((t) => t % VOCAB)), 0);
  const second = exe.forward(Int32Array.of(6), 7);
  return Float32Array.from([...first, ...second]);
}

/** Largest difference, relative to the scale of the expected values (at least 1). */
export function maxDiff(got: Float32Array, expected: Float32Array): number {
  expect(got.length).toBe(expected.length);
  const scale = expected.reduce((m, x) => Math.max(m, Math.abs(x)), 1);
  return got.reduce((m, x, i) => Math.max(m, Math.abs(x - expected[i]!)), 0) / scale;
}
