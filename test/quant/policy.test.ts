// The layout policy (passes/layout.ts) on stories260K's fused graph, and the byte format of
// the quantized panels (ir/layout.ts) read back by an independent decoder of the documented
// order. No compiler involved.
import { describe, expect, test } from '@jest/globals';
import type { Layout } from '../../ir/layout.js';
import { formatLayout, layoutSize, pack } from '../../ir/layout.js';
import { decode, encode, f16ToF32 } from '../../ir/quant.js';
import { TARGETS } from '../../ir/target.js';
import type { QuantOptions } from '../../passes/layout.js';
import { selectFolds, selectLayouts } from '../../passes/layout.js';
import { runGraphPasses } from '../../passes/pipeline.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';
import { uniform } from '../../src/runtime/random.js';

const graph = runGraphPasses(specGraph(loadSpec('specs/stories260k.yaml')).graph);

/** weight name → layout name, for the layer-0 weights and the embedding. */
function layouts(quant: QuantOptions): Record<string, string> {
  const plan = selectLayouts(graph, TARGETS.avx512, quant);
  const out: Record<string, string> = {};
  for (const node of graph.nodes) {
    if (node.op !== 'weight' || !/^(layers\.0\.|token_embedding)/.test(node.name!)) continue;
    out[node.name!.replace('layers.0.', '')] = formatLayout(plan.get(node.id)!);
  }
  return out;
}

describe('selectLayouts', () => {
  test('f32 and q8_0: every matmul weight, the norms stay rows; q8_0 falls back on w2', () => {
    expect(layouts({ policy: 'f32' })).toMatchObject({ token_embedding: 'panels16',
      rms_att: 'rows', wq: 'panels16', w2: 'panels16' });
    expect(layouts({ policy: 'q8_0' })).toMatchObject({ token_embedding: 'q8_0x16',
      rms_att: 'rows', wq: 'q8_0x16', wv: 'q8_0x16', w1: 'q8_0x16', w2: 'f16x16' });
  });

  test('q4_0 keeps the (tied) classifier at q8_0; mixed also V and FFN down', () => {
    expect(layouts({ policy: 'q4_0' })).toMatchObject({ token_embedding: 'q8_0x16',
      wq: 'q4_0x16', wv: 'q4_0x16', wo: 'q4_0x16', w1: 'q4_0x16', w3: 'q4_0x16' });
    expect(layouts({ policy: 'mixed' })).toMatchObject({ token_embedding: 'q8_0x16',
      wq: 'q4_0x16', wk: 'q4_0x16', wv: 'q8_0x16', wo: 'q4_0x16', w1: 'q4_0x16',
      w2: 'f16x16', w3: 'q4_0x16' });
  });

  test('per-weight overrides; a SwiGLU pair is raised to the more precise of the two', () => {
    const notes: { weight: string; why: string }[] = [];
    selectLayouts(graph, TARGETS.avx2, { policy: 'q4_0', weights: { w1: 'q8_0', wk: 'f32' } },
      notes as never);
    expect(layouts({ policy: 'q4_0', weights: { w1: 'q8_0', wk: 'f32' } })).toMatchObject({
      wk: 'panels16', w1: 'q8_0x16', w3: 'q8_0x16', wq: 'q4_0x16' });
    expect(notes.find((n) => n.weight === 'layers.2.w3')!.why).toBe(
      'q4_0 policy; raised to q8_0 like layers.2.w1, its SwiGLU partner');
    expect(notes.find((n) => n.weight === 'layers.2.w1')!.why).toBe('quant.weights.w1');
  });

  test('encoded weights are never gain-folded', () => {
    const folded = (policy: QuantOptions['policy']) =>
      selectFolds(graph, selectLayouts(graph, TARGETS.avx512, { policy })).size;
    expect(folded('f32')).toBe(25); // wq, wk, wv, w1, w3 of 5 layers
    expect(folded('f16')).toBe(0);
    expect(folded('q4_0')).toBe(0);
  });
});

/** Element (row, col) of a [n, k] matrix packed in `layout`, read as ir/layout.ts says. */
function readPacked(bytes: Uint8Array, layout: Layout, k: number, row: number, col: number) {
  const L = (layout as { lanes: number }).lanes;
  const half = (at: number) => f16ToF32(bytes[at]! | (bytes[at + 1]! << 8));
  const [p, l, b, j] = [Math.floor(row / L), row % L, Math.floor(col / 32), col % 32];
  if (layout.kind === 'f16') return half((p * k * L + col * L + l) * 2);
  const blocks = k / 32;
  const qb = layout.kind === 'q8_0' ? 32 * L : 16 * L;
  const scales = Math.ceil(blocks * L * 2 / 64) * 64;
  const panel = p * (scales + blocks * qb);
  const d = half(panel + (b * L + l) * 2);
  const quants = panel + scales + b * qb;
  if (layout.kind === 'q8_0') {
    const q = bytes[quants + (j >> 2) * 4 * L + 4 * l + (j & 3)]!;
    return d * (q > 127 ? q - 256 : q);
  }
  const byte = bytes[quants + ((j & 15) >> 2) * 4 * L + 4 * l + (j & 3)]!;
  return d * ((j < 16 ? byte & 15 : byte >> 4) - 8);
}

describe.each([['q8_0', 16], ['q4_0', 16], ['q4_0', 4], ['q8_0', 8], ['f16', 4]] as const)(
  '%s panels of %i', (kind, lanes) => {
    test('hold the ggml-encoded values in the documented order, zero past the last row', () => {
      const [n, k] = [37, 96];
      const next = uniform(7);
      const w = Float32Array.from({ length: n * k }, () => next() * 2 - 1);
      const layout = { kind, lanes } as Layout;
      const packed = pack(w, layout, n, k);
      expect(packed.length).toBe(layoutSize(layout, n, k));
      const bytes = new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength);
      const want = decode(kind, encode(kind, w), n * k);
      for (let row = 0; row < Math.ceil(n / lanes) * lanes; row++) {
        for (let col = 0; col < k; col++) {
          const got = readPacked(bytes, layout, k, row, col);
          expect(got + 0).toBe(row < n ? want[row * k + col]! + 0 : 0); // -0 is 0
        }
      }
    });
  });
