// The printed graph IR of stories260K, and what the verifier says about a corrupted graph.
//
// The snapshot is the frontend's whole output for the real spec: a change to specs/llama.yaml,
// the builder or the printer shows up here as a diff to review.
import { describe, expect, test } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../../ir/diagnostics.js';
import type { Graph, Node } from '../../ir/graph.js';
import { GraphBuilder } from '../../ir/graph.js';
import { printGraph } from '../../ir/printer.js';
import type { TensorType } from '../../ir/types.js';
import { verify } from '../../ir/verify.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';

const STORIES = fileURLToPath(new URL('../../specs/stories260k.yaml', import.meta.url));

/** `graph` with node `id` claiming `type` instead of the one its operands give. */
function retyped(graph: Graph, id: number, type: TensorType): Graph {
  const nodes = graph.nodes.map((n): Node => (n.id === id ? { ...n, type } : n));
  return { nodes, outputs: graph.outputs };
}

/** `graph` with node `id`'s attributes replaced by `attrs`. */
function reattributed(graph: Graph, id: number, attrs: Node['attrs']): Graph {
  const nodes = graph.nodes.map((n): Node => (n.id === id ? { ...n, attrs } : n));
  return { nodes, outputs: graph.outputs };
}

/** The error `verify` throws; fails the test when it throws nothing or something else. */
function verifyError(graph: Graph, stage: string): InternalError {
  try {
    verify(graph, stage);
  } catch (err) {
    expect(err).toBeInstanceOf(InternalError);
    return err as InternalError;
  }
  throw new Error('verify accepted the graph');
}

describe('printer', () => {
  test('stories260k graph', () => {
    expect(printGraph(specGraph(loadSpec(STORIES)).graph)).toMatchSnapshot();
  });
});

describe('verifier', () => {
  test('accepts the stories260k graph', () => {
    expect(() => verify(specGraph(loadSpec(STORIES)).graph, 'test')).not.toThrow();
  });

  test('names the stage, node, op and shape of a node whose type disagrees with its operands',
    () => {
      // x [seq] → embed [seq, 2] → matmul with w [3, 2] gives [seq, 3]; claim [seq, 2]
      const b = new GraphBuilder();
      const ids = b.leaf('input', 'tokens', { dtype: 'i32', shape: ['seq'] });
      const table = b.leaf('weight', 'table', { dtype: 'f32', shape: [4, 2] });
      const x = b.apply('embed', [table, ids], {}, { name: 'x' }) as number;
      const w = b.leaf('weight', 'w', { dtype: 'f32', shape: [3, 2] });
      const y = b.apply('matmul', [x, w], {}, { name: 'y' }) as number;
      const graph = retyped(b.finish([y]), y, { dtype: 'f32', shape: ['seq', 2] });

      expect(verifyError(graph, 'fuse-norm').message).toBe([
        'internal error in fuse-norm: the graph it produced is invalid:',
        '  %4 matmul (y) : f32[seq, 2]: type is f32[seq, 2] but its operands give f32[seq, 3]',
        '%0 = input tokens : i32[seq]',
        '%1 = weight table : f32[4, 2]',
        '%2 = embed %1, %0 : f32[seq, 2]  # x',
        '%3 = weight w : f32[3, 2]',
        '%4 = matmul %2, %3 : f32[seq, 2]  # y',
        'return %4',
        '',
      ].join('\n'));
    });

  test('checks attributes against the op table: missing, unknown and wrongly typed', () => {
    // tokens → embed → rope {head_size, theta}; the problems sit between the header and the
    // printed graph (4 nodes, `return`, and a final newline)
    const b = new GraphBuilder();
    const ids = b.leaf('input', 'tokens', { dtype: 'i32', shape: ['seq'] });
    const table = b.leaf('weight', 'table', { dtype: 'f32', shape: [4, 8] });
    const x = b.apply('embed', [table, ids], {}, { name: 'x' }) as number;
    const q = b.apply('rope', [x], { head_size: 4, theta: 10000 }, { name: 'q' }) as number;
    const graph = b.finish([q]);
    const problems = (attrs: Node['attrs']) =>
      verifyError(reattributed(graph, q, attrs), 'fold-rope').message.split('\n').slice(1, -6);

    expect(problems({ head_size: 4 })).toEqual(
      ['  %3 rope (q) : f32[seq, 8]: missing attribute theta']);
    expect(problems({ head_size: 4, theta: 10000, scale: 2 })).toEqual(
      ['  %3 rope (q) : f32[seq, 8]: unknown attribute scale']);
    expect(problems({ head_size: 4.5, theta: true })).toEqual([
      '  %3 rope (q) : f32[seq, 8]: attribute head_size must be int, got 4.5',
      '  %3 rope (q) : f32[seq, 8]: attribute theta must be number, got true',
    ]);
    expect(() => verify(graph, 'fold-rope')).not.toThrow();
  });

  test('reports a corrupted node of the stories260k graph and prints the graph', () => {
    const graph = specGraph(loadSpec(STORIES)).graph;
    const logits = graph.outputs[0]!;
    const err = verifyError(retyped(graph, logits, { dtype: 'f32', shape: ['seq', 500] }),
      'frontend');
    const lines = err.message.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'internal error in frontend: the graph it produced is invalid:',
      `  %${logits} matmul (logits) : f32[seq, 500]: type is f32[seq, 500] but its operands ` +
        'give f32[seq, 512]',
    ]);
    expect(lines).toContain(`%${logits} = matmul %${logits - 1}, %1 : f32[seq, 500]  # logits`);
    expect(lines.slice(-2)).toEqual([`return %${logits}`, '']);
  });
});
