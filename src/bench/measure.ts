// The measuring loop of `smelt bench`: for every backend × layout × threads combination,
// compile cold (under an empty cache folder) and warm, run one greedy warm-up round (its
// ids are checked against the reference combination's), then `repeat` timed rounds; with
// `perKernel`, one more round on an instrumented build times every kernel call.
//
// A round: reset the KV cache, one prefill step over the prompt, then `gen` decode steps,
// each feeding back the argmax of the previous logits. Only forward() calls are timed.
// Combinations run one after another, never interleaved: an idle OpenMP team spins for a
// while after its parallel region and would take the cores the next backend needs.

import { mkdtempSync, rmSync } from 'node:fs';
import { memoryUsage } from 'node:process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, CompileOptions, Executable } from '../../backends/index.js';
import { MAX_TOKENS } from '../../backends/c/index.js';
import type { Graph } from '../../ir/graph.js';
import { layoutSize } from '../../ir/layout.js';
import { detectTarget } from '../../ir/target.js';
import { selectLayouts } from '../../passes/layout.js';
import { runGraphPasses } from '../../passes/pipeline.js';
import { knob, setKnob } from '../env.js';
import type { LoadedModel } from '../runtime/load.js';
import { compileInput } from '../runtime/load.js';
import type { Cost, WeightBytes } from './cost.js';
import { ZERO, addCost, chunks, nodeCost, stepCost } from './cost.js';
import type { BenchLayout } from './layouts.js';
import { layoutOption } from './layouts.js';
import type { MachineCeilings } from './probe.js';
import type { Agreement, BenchReport, KernelRow, Row, Stat } from './types.js';

export interface BenchPlan {
  loaded: LoadedModel;
  backends: readonly Backend[];
  layouts: readonly BenchLayout[];
  threads: readonly number[];
  prompt: number;
  gen: number;
  repeat: number;
  perKernel: boolean;
  ceilings: MachineCeilings;
  /** Called after every unit of work (a compile, a round). */
  onProgress?: (what: string) => void;
}

export function stat(samples: readonly number[]): Stat {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

/** Units of work `runCombos` reports, for a progress bar. */
export function workUnits(plan: Omit<BenchPlan, 'onProgress'>): number {
  const combos = plan.backends.reduce((n, b) => n + threadsOf(b, plan.threads).length, 0) *
    plan.layouts.length;
  return combos * (2 + plan.repeat + (plan.perKernel ? 1 : 0));
}

/** The prompt: fixed ids spread over the vocabulary (no tokenizer needed). */
export function promptIds(n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
}

function argmax(logits: Float32Array, vocab: number): number {
  let best = logits.length - vocab;
  for (let i = best + 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
  return best - (logits.length - vocab);
}

interface Round {
  prefillSeconds: number;
  decodeSeconds: number;
  ids: number[];
}

function round(exe: Executable, prompt: Int32Array, gen: number, vocab: number,
  between?: (phase: 'prefill' | 'decode') => void): Round {
  exe.reset();
  let start = performance.now();
  let logits = exe.forward(prompt, 0);
  const prefillSeconds = (performance.now() - start) / 1000;
  between?.('prefill');
  const ids = [argmax(logits, vocab)];
  let decode = 0;
  for (let i = 0; i < gen; i++) {
    start = performance.now();
    logits = exe.forward(Int32Array.of(ids[i]!), prompt.length + i);
    decode += performance.now() - start;
    ids.push(argmax(logits, vocab));
  }
  between?.('decode');
  return { prefillSeconds, decodeSeconds: decode / 1000, ids };
}

/** Compiles with an empty cache folder, then again with it filled; returns the warm one. */
async function compileColdWarm(backend: Backend, loaded: LoadedModel, options: CompileOptions) {
  const dir = mkdtempSync(join(tmpdir(), 'smelt-bench-cold-'));
  const previous = knob('cacheDir');
  setKnob('cacheDir', dir);
  try {
    let start = performance.now();
    const cold = await backend.compile(compileInput(loaded), options);
    const coldSeconds = (performance.now() - start) / 1000;
    cold.dispose?.();
    start = performance.now();
    const exe = await backend.compile(compileInput(loaded), options);
    return { exe, coldSeconds, warmSeconds: (performance.now() - start) / 1000 };
  } finally {
    setKnob('cacheDir', previous);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes per element of every weight as `layout`'s policy stores it (panels padding included). */
export function weightBytes(graph: Graph, layout: BenchLayout): WeightBytes {
  const plan = selectLayouts(graph, detectTarget(), { policy: layout });
  const perName = new Map<string, number>();
  for (const node of graph.nodes) {
    const chosen = plan.get(node.id);
    const shape = node.type.shape as number[];
    if (node.op !== 'weight' || !chosen || shape.length !== 2) continue;
    perName.set(node.name!, layoutSize(chosen, shape[0]!, shape[1]!) * 4 / (shape[0]! * shape[1]!));
  }
  return (name) => perName.get(name) ?? 4;
}

/** Where two id sequences first differ. */
function compareIds(reference: readonly number[], ids: readonly number[]) {
  const step = ids.findIndex((id, i) => id !== reference[i]);
  return step < 0 ? undefined : { step, expected: reference[step]!, got: ids[step]! };
}

/** Work of the benchmark's steps from the cost model, on the fused graph. */
export function benchWork(graph: Graph, prompt: number, gen: number,
  bytesPerWeight?: WeightBytes): BenchReport['work'] {
  const prefill = chunks(prompt, MAX_TOKENS)
    .reduce((sum, c) => addCost(sum, stepCost(graph, c.n, c.pos, bytesPerWeight)), ZERO);
  let decode: Cost = ZERO;
  for (let i = 0; i < gen; i++) {
    decode = addCost(decode, stepCost(graph, 1, prompt + i, bytesPerWeight));
  }
  return { prefillFlops: prefill.flops, prefillWeightBytes: prefill.weightBytes,
    decodeFlopsPerToken: decode.flops / gen,
    decodeWeightBytesPerToken: decode.weightBytes / gen };
}

/** Per-kernel rows of one phase: the instrumented seconds with the cost model's work. */
function kernelRows(exe: Executable, graph: Graph, phase: KernelRow['phase'],
  steps: { n: number; pos: number }[]): KernelRow[] {
  const profile = exe.profile!;
  const seconds = profile.seconds();
  const byKernel = new Map<string, KernelRow>();
  profile.calls.forEach((call, i) => {
    const node = graph.nodes[call.node]!;
    const cost = steps.reduce((sum, s) => addCost(sum, nodeCost(graph, node, s.n, s.pos)), ZERO);
    const row = byKernel.get(call.kernel) ?? { phase, kernel: call.kernel,
      doc: profile.docs.get(call.kernel) ?? '', calls: 0, seconds: 0, share: 0, flops: 0,
      bytes: 0, gbps: 0, gflops: 0, intensity: 0 };
    row.calls += steps.length;
    row.seconds += seconds[i]!;
    row.flops += cost.flops;
    row.bytes += cost.bytes;
    byKernel.set(call.kernel, row);
  });
  const total = [...byKernel.values()].reduce((s, r) => s + r.seconds, 0);
  return [...byKernel.values()].map((r) => ({ ...r, share: r.seconds / total,
    gbps: r.bytes / r.seconds / 1e9, gflops: r.flops / r.seconds / 1e9,
    intensity: r.bytes > 0 ? r.flops / r.bytes : 0 })).sort((a, b) => b.seconds - a.seconds);
}

/** One instrumented round: kernel rows for prefill and decode, or none if not instrumented. */
async function profileKernels(backend: Backend, plan: BenchPlan, options: CompileOptions,
  graph: Graph, prompt: Int32Array, vocab: number): Promise<KernelRow[] | undefined> {
  const exe = await backend.compile(compileInput(plan.loaded), { ...options, profile: true });
  try {
    if (!exe.profile) return undefined;
    round(exe, prompt, plan.gen, vocab); // warm-up
    const rows: KernelRow[] = [];
    exe.profile.reset();
    round(exe, prompt, plan.gen, vocab, (phase) => {
      const steps = phase === 'prefill' ? chunks(prompt.length, MAX_TOKENS)
        : Array.from({ length: plan.gen }, (_, i) => ({ n: 1, pos: prompt.length + i }));
      rows.push(...kernelRows(exe, graph, phase, steps));
      exe.profile!.reset();
    });
    return rows;
  } finally {
    exe.dispose?.();
  }
}

/** The interpreter runs on one thread whatever it is asked: one row of it is enough. */
function threadsOf(backend: Backend, threads: readonly number[]): readonly number[] {
  return backend.name === 'ref' ? [1] : threads;
}

/** Every combination's row, in the order backends × layouts × threads, and the work. */
export async function runCombos(plan: BenchPlan):
  Promise<{ rows: Row[]; work: BenchReport['work'] }> {
  const { loaded, prompt: promptLength, gen, ceilings } = plan;
  const vocab = Number(loaded.model.env.get('vocab_size'));
  const prompt = promptIds(promptLength, vocab);
  const fused = runGraphPasses(loaded.model.graph, { fuse: true });
  const work = benchWork(fused, promptLength, gen);
  const rows: Row[] = [];
  // quantized layouts compute other numbers: each layout is checked against its own first row
  const references = new Map<BenchLayout, { name: string; ids: number[] }>();
  for (const backend of plan.backends) for (const layout of plan.layouts) {
    const layoutWork = benchWork(fused, promptLength, gen, weightBytes(fused, layout));
    for (const threads of threadsOf(backend, plan.threads)) {
      const name = `${backend.name}/${layout}/${threads}T`;
      const options: CompileOptions = { threads, ...layoutOption(layout) };
      const { exe, coldSeconds, warmSeconds } = await compileColdWarm(backend, loaded, options);
      plan.onProgress?.(`${name} compiled`);
      try {
        const warm = round(exe, prompt, gen, vocab);
        if (!references.has(layout)) references.set(layout, { name, ids: warm.ids });
        const reference = references.get(layout)!;
        const mismatch = compareIds(reference.ids, warm.ids);
        const agreement: Agreement = { agrees: !mismatch, reference: reference.name,
          ...(mismatch ? { mismatch } : {}) };
        plan.onProgress?.(`${name} warm-up`);
        const prefill: number[] = [];
        const decode: number[] = [];
        let rss = 0;
        for (let r = 0; r < plan.repeat; r++) {
          const got = round(exe, prompt, gen, vocab);
          prefill.push(promptLength / got.prefillSeconds);
          decode.push(gen / got.decodeSeconds);
          rss = Math.max(rss, memoryUsage.rss());
          plan.onProgress?.(`${name} round ${r + 1}/${plan.repeat}`);
        }
        const p = stat(prefill);
        const d = stat(decode);
        const bandwidth = ceilings.readBytesPerSecond[threads] ?? NaN;
        const peak = ceilings.flopsPerSecond[threads] ?? NaN;
        const prefillFlops = layoutWork.prefillFlops / promptLength * p.median;
        const decodeBytes = layoutWork.decodeWeightBytesPerToken * d.median;
        const row: Row = {
          backend: backend.name, layout, threads, peer: false,
          compile: { coldSeconds, warmSeconds },
          prefill: { tokensPerSecond: p, gflops: prefillFlops / 1e9,
            fractionOfPeak: prefillFlops / peak },
          decode: { tokensPerSecond: d, gbps: decodeBytes / 1e9,
            gflops: work.decodeFlopsPerToken * d.median / 1e9,
            fractionOfBandwidth: decodeBytes / bandwidth },
          memory: { moduleBytes: exe.memoryBytes ?? null, rssBytes: rss },
          agreement,
        };
        if (plan.perKernel) {
          const kernels = await profileKernels(backend, plan, options, fused, prompt, vocab);
          if (kernels) row.kernels = kernels;
          plan.onProgress?.(`${name} per-kernel`);
        }
        rows.push(row);
      } finally {
        exe.dispose?.();
      }
    }
  }
  return { rows, work };
}
