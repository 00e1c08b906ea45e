// The fusion passes: the IR after each pass (snapshots), what the report says, and that a
// fused graph computes what the unfused one does, on every backend.
import { describe, expect, test } from '@jest/globals';
import { BACKENDS, backendNamed } from '../../backends/index.js';
import type { Graph } from '../../ir/graph.js';
import { printGraph } from '../../ir/printer.js';
import type { Target } from '../../ir/target.js';
import { TARGETS } from '../../ir/target.js';
import { overrides } from '../../src/cli/setup.js';
import { numel } from '../../ir/types.js';
import { selectLayouts } from '../../passes/layout.js';
import { planMemory } from '../../passes/memory.js';
import { compileProgram, runGraphPasses } from '../../passes/pipeline.js';
import { FusionReport } from '../../passes/report.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { modelPath, readGolden } from '../models.js';

const stories = () => specGraph(loadSpec('specs/stories260k.yaml'));

describe('IR after each pass (stories260K)', () => {
  const after: [string, Graph][] = [];
  runGraphPasses(stories().graph, { onPass: (name, graph) => after.push([name, graph]) });

  test.each(after.map(([name, graph]) => [name, graph] as const))('%s', (_, graph) => {
    // one layer is enough to review; the others repeat it
    const lines = printGraph(graph).split('\n');
    const layer1 = lines.findIndex((l) => l.includes('layers.1.'));
    expect([...lines.slice(0, layer1), '...', ...lines.slice(-4)].join('\n')).toMatchSnapshot();
  });
});

describe('fusion report (stories260K)', () => {
  const report = new FusionReport();
  const fused = runGraphPasses(stories().graph, { report });

  test('per layer 5 normalized matmuls, 1 swiglu, 2 residual adds and the cache writes ' +
    'are fused', () => {
    const count = (pass: string) => report.decisions.filter((d) => d.pass === pass && d.fused)
      .length;
    expect(count('fuse-norm')).toBe(5 * 5);
    expect(count('fuse-swiglu')).toBe(5);
    expect(count('fuse-residual')).toBe(5 * 2);
    expect(count('fuse-kv')).toBe(5);
    expect(fused.nodes.filter((n) => n.op === 'kv_write')).toHaveLength(0);
  });

  test('the final norm stays: its gain cannot be folded into the tied embedding', () => {
    const declined = report.decisions.filter((d) => !d.fused);
    expect(declined).toHaveLength(1);
    expect(declined[0]!.pass).toBe('fuse-norm');
    expect(declined[0]!.detail).toMatch(/^weight token_embedding has readers other than matmuls/);
  });

  test('no standalone silu, mul or add is left, and one rmsnorm (the final one)', () => {
    const ops = fused.nodes.map((n) => n.op);
    for (const op of ['silu', 'mul', 'add'] as const) expect(ops).not.toContain(op);
    expect(ops.filter((op) => op === 'rmsnorm')).toHaveLength(1);
  });

  test('a norm with a non-matmul reader is declined, with the reason', () => {
    const graph = stories().graph;
    const norm = graph.nodes.find((n) => n.op === 'rmsnorm')!;
    // make the first norm also a graph output
    const r = new FusionReport();
    runGraphPasses({ nodes: graph.nodes, outputs: [...graph.outputs, norm.id] }, { report: r });
    expect(r.decisions.find((d) => !d.fused)).toEqual({ pass: 'fuse-norm', fused: false,
      nodes: [`%${norm.id} rmsnorm (h)`], detail: 'it is a graph output' });
  });
});

test('a cache write whose result something else reads stays, with the reason', () => {
  const graph = stories().graph;
  const write = graph.nodes.find((n) => n.op === 'kv_write')!;
  const r = new FusionReport();
  const fused = runGraphPasses({ nodes: graph.nodes, outputs: [...graph.outputs, write.id] },
    { report: r });
  const declined = r.decisions.filter((d) => d.pass === 'fuse-kv' && !d.fused);
  expect(declined).toHaveLength(1);
  // ids in the report are those of the graph the pass saw (earlier passes renumber)
  expect(declined[0]!.detail).toMatch(/^%\d+ kv_write \(kc\) has 2 readers$/);
  expect(fused.nodes.filter((n) => n.op === 'attention_kv')).toHaveLength(4);
});

describe('fused and unfused graphs agree', () => {
  const loaded = loadModel(loadSpec('specs/stories260k.yaml'),
    { path: modelPath('stories260K/stories260K.bin') });
  const tokens = readGolden<{ tokens: number[] }>('stories260K_greedy_empty_256.json').tokens;
  const steps = async (backend: string, fuse: boolean) => {
    const exe = await backendNamed(backend).compile(compileInput(loaded), { threads: 2, fuse });
    const prefill = exe.forward(Int32Array.from(tokens.slice(0, 40)), 0);
    const decode = exe.forward(Int32Array.of(tokens[40]!), 40);
    return Float32Array.from([...prefill, ...decode]);
  };

  test.each(BACKENDS.filter((b) => b.name !== 'ref').map((b) => b.name))('on %s', async (name) => {
    const [fused, unfused] = [await steps(name, true), await steps(name, false)];
    const worst = fused.reduce((m, x, i) => Math.max(m, Math.abs(x - unfused[i]!)), 0);
    expect(worst).toBeLessThan(1e-5 * Math.max(1, ...unfused.map(Math.abs)));
  });

  test('on ref, running the fused graph itself', async () => {
    const fusedGraph = runGraphPasses(loaded.model.graph);
    const run = async (graph: Graph) => {
      const exe = await backendNamed('ref').compile({ ...compileInput(loaded), graph },
        { threads: 1 });
      return exe.forward(Int32Array.from(tokens.slice(0, 12)), 0);
    };
    const [fused, unfused] = [await run(fusedGraph), await run(loaded.model.graph)];
    const worst = fused.reduce((m, x, i) => Math.max(m, Math.abs(x - unfused[i]!)), 0);
    expect(worst).toBeLessThan(1e-5 * Math.max(1, ...unfused.map(Math.abs)));
  });
});

// the families with biases: Qwen2's normalized Q/K/V (q and k then take their RoPE along)
// and GPT-2's layernormed projections (o and down then take their residual add along);
// per layer, the kernels each bias ends up in
const BIASED = [
  ['qwen2-tiny', { rms_matmul_bias: 1, rms_matmul_bias_rope: 2 }],
  ['gpt2-tiny', { matmul_bias: 2, matmul_bias_add: 2 }],
] as const;
describe.each(BIASED)(
  'bias epilogues (%s)', (name, kernels) => {
    const loaded = loadModel(loadSpec(`specs/tiny/${name}.yaml`), { seed: 5 });
    const layers = Number(loaded.model.env.get('n_layers'));
    // init gives zero biases (and unit gains): noise makes them count
    for (const slot of loaded.model.slots) {
      if (slot.decl.init !== 'zeros' && slot.decl.init !== 'ones') continue;
      const data = loaded.weights.get(slot.name)!;
      data.forEach((x, i) => { data[i] = x + Math.sin(i + slot.name.length) * 0.3; });
    }

    test(`every bias lands in a matmul epilogue: ${JSON.stringify(kernels)} per layer`, () => {
      const fused = runGraphPasses(loaded.model.graph);
      for (const [op, perLayer] of Object.entries(kernels)) {
        expect(fused.nodes.filter((n) => n.op === op)).toHaveLength(perLayer * layers);
      }
      for (const op of ['add_bias', 'add', 'rope'] as const) {
        expect(fused.nodes.filter((n) => n.op === op)).toHaveLength(0);
      }
    });

    test.each(['c', 'wasm'])('fused and unfused agree on %s', async (backend) => {
      const steps = async (fuse: boolean) => {
        const exe = await backendNamed(backend).compile(compileInput(loaded), { threads: 2, fuse });
        return Float32Array.from([...exe.forward(Int32Array.of(1, 5, 9, 3), 0),
          ...exe.forward(Int32Array.of(7), 4)]);
      };
      const [fused, unfused] = [await steps(true), await steps(false)];
      const worst = fused.reduce((m, x, i) => Math.max(m, Math.abs(x - unfused[i]!)), 0);
      expect(worst).toBeLessThan(1e-5 * Math.max(1, ...unfused.map(Math.abs)));
    });
  });

describe('RoPE epilogues (llama-tiny with 64-wide heads)', () => {
  // a head is 64 outputs: 4 panels of 16, 8 of 8, 16 of 4 — wider than a register tile
  // on avx2 (3 panels) and wasm (4), so a task runs several tiles before it rotates
  const spec = loadSpec('specs/tiny/llama-tiny.yaml');
  spec.overrides = overrides(spec, ['dim=128', 'n_heads=2', 'n_kv_heads=1', 'hidden_dim=96']);
  const loaded = loadModel(spec, { seed: 3 });

  test('q and k of every layer take the epilogue; one angle table serves them all', () => {
    const report = new FusionReport();
    const fused = runGraphPasses(loaded.model.graph, { report });
    expect(report.decisions.filter((d) => d.pass === 'fuse-rope' && d.fused)).toHaveLength(4);
    expect(fused.nodes.filter((n) => n.op === 'rope')).toHaveLength(0);
    expect(fused.nodes.filter((n) => n.op === 'rope_table')).toHaveLength(1);
  });

  const variants: [string, string, Target | undefined][] = [['c', 'native', undefined],
    ['c', 'avx2', TARGETS.avx2], ['c', 'scalar', TARGETS.scalar], ['wasm', 'simd128', undefined]];
  test.each(variants)('%s %s: fused and unfused agree', async (backend, _, target) => {
    const steps = async (fuse: boolean) => {
      const exe = await backendNamed(backend).compile(compileInput(loaded),
        { threads: 2, fuse, ...(target ? { target } : {}) });
      // 7 tokens: a partial token tile; then a prefill at pos 7 and a decode step
      return Float32Array.from([...exe.forward(Int32Array.of(1, 5, 9, 3, 2, 8, 4), 0),
        ...exe.forward(Int32Array.of(6, 7), 7), ...exe.forward(Int32Array.of(11), 9)]);
    };
    const [fused, unfused] = [await steps(true), await steps(false)];
    const worst = fused.reduce((m, x, i) => Math.max(m, Math.abs(x - unfused[i]!)), 0);
    expect(worst).toBeLessThan(1e-5 * Math.max(1, ...unfused.map(Math.abs)));
  });
});

describe('a 512-token prefill holds no [seq, ctx] buffer', () => {
  const model = specGraph(loadSpec('specs/stories260k.yaml'));
  const target = TARGETS.avx512;
  const program = compileProgram(model.graph, target, 512);
  const graph = runGraphPasses(model.graph);
  const plan = planMemory(graph, 512, selectLayouts(graph, target));
  const ctx = 512;

  test('no arena tensor is as large as seq × ctx', () => {
    for (const node of graph.nodes) {
      if (plan.buffers[node.id]!.region !== 'arena') continue;
      expect(numel(node.type.shape, { seq: 512 })).toBeLessThan(512 * ctx);
    }
  });

  test('attention keeps at most one row of scores per task (ctx floats)', () => {
    const arrays = JSON.stringify(program.kernels).match(/"k":"array","name":"\w+","size":\d+/g);
    const sizes = (arrays ?? []).map((a) => Number(/size":(\d+)/.exec(a)![1]));
    expect(sizes.length).toBeGreaterThan(0);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(ctx);
  });
});
