// The roofline's cost model and the machine probe's cache.
import { afterAll, describe, expect, test } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder } from '../../ir/graph.js';
import { runGraphPasses } from '../../passes/pipeline.js';
import { chunks, nodeCost, stepCost } from '../../src/bench/cost.js';
import { machineCeilings } from '../../src/bench/probe.js';
import { knob, setKnob } from '../../src/env.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';

describe('cost model', () => {
  test('a matmul is 2·n·out·k FLOPs and reads its whole weight once', () => {
    const b = new GraphBuilder();
    const ids = b.leaf('input', 'tokens', { dtype: 'i32', shape: ['seq'] });
    const table = b.leaf('weight', 'table', { dtype: 'f32', shape: [10, 64] });
    const w = b.leaf('weight', 'w', { dtype: 'f32', shape: [32, 64] });
    const x = b.apply('embed', [table, ids], {}) as number;
    const y = b.apply('matmul', [x, w], {}) as number;
    const g = b.finish([y]);
    expect(nodeCost(g, g.nodes[y]!, 5, 0)).toEqual({ flops: 2 * 5 * 32 * 64,
      bytes: (32 * 64 + 5 * 64 + 5 * 32) * 4, weightBytes: 32 * 64 * 4 });
    // a q8_0 weight: 34 bytes per 32
    expect(nodeCost(g, g.nodes[y]!, 1, 0, () => 34 / 32).weightBytes).toBe(32 * 64 * 34 / 32);
  });

  test('fusion changes neither the weight bytes a decode step reads nor (much) its FLOPs', () => {
    const { graph } = specGraph(loadSpec('specs/smollm-135m.yaml'));
    const fused = runGraphPasses(graph, { fuse: true });
    expect(fused.nodes.length).toBeLessThan(graph.nodes.length);
    const plain = stepCost(graph, 1, 100);
    const done = stepCost(fused, 1, 100);
    expect(done.weightBytes).toBe(plain.weightBytes);
    expect(Math.abs(done.flops / plain.flops - 1)).toBeLessThan(0.01);
    // SmolLM-135M: ~134.5M parameters, tied; decode reads all but the embedding gather
    expect(done.weightBytes / 4 / 1e6).toBeGreaterThan(130);
    expect(done.weightBytes / 4 / 1e6).toBeLessThan(140);
    expect(done.flops / (2 * done.weightBytes / 4)).toBeCloseTo(1, 1);
  });

  test('attention grows with the positions attended, and a prompt is cut into chunks', () => {
    const { graph } = specGraph(loadSpec('specs/stories260k.yaml'));
    expect(stepCost(graph, 1, 400).flops).toBeGreaterThan(stepCost(graph, 1, 10).flops);
    expect(chunks(300, 128)).toEqual([{ n: 128, pos: 0 }, { n: 128, pos: 128 },
      { n: 44, pos: 256 }]);
  });
});

describe('machine probe', () => {
  const previous = knob('cacheDir');
  const dir = mkdtempSync(join(tmpdir(), 'smelt-probe-test-'));
  afterAll(() => {
    setKnob('cacheDir', previous);
    rmSync(dir, { recursive: true, force: true });
  });

  test('is measured once, cached in the smelt cache folder, and re-measured on request', () => {
    setKnob('cacheDir', dir);
    const said: string[] = [];
    const first = machineCeilings([1], false, (file) => said.push(file));
    expect(first.fresh).toBe(true);
    expect(said).toEqual([join(dir, 'probe.json')]);
    expect(first.readBytesPerSecond[1]).toBeGreaterThan(1e9);
    expect(first.flopsPerSecond[1]).toBeGreaterThan(1e9);
    expect(existsSync(join(dir, 'probe.json'))).toBe(true);
    const again = machineCeilings([1], false, (file) => said.push(file));
    expect(again).toEqual({ ...first, fresh: false });
    expect(said).toHaveLength(1);
    expect(machineCeilings([1], true).fresh).toBe(true);
  });
});
