// `smelt bench`: backends × layouts × threads side by side on one spec and one set of
// weights, with the roofline and, on request, per-kernel timings and peer engines. The
// table goes to stdout, the progress bar to stderr; --json/--md/--svg write files.

import cliProgress from 'cli-progress';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { backendNamed } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { chartsSvg } from '../bench/chart.js';
import { parseLayouts } from '../bench/layouts.js';
import { runCombos, workUnits } from '../bench/measure.js';
import { checkPeer, parsePeer, peerRows } from '../bench/peer.js';
import { cpuModel, machineCeilings } from '../bench/probe.js';
import { markdownReport, terminalReport } from '../bench/table.js';
import type { BenchReport } from '../bench/types.js';
import type { ModelFlags } from './setup.js';
import { loadFromFlags } from './setup.js';

export interface BenchFlags extends ModelFlags {
  backends: string;
  threads: string;
  quant: string;
  prompt: number;
  gen: number;
  repeat: number;
  probe?: boolean;
  perKernel?: boolean;
  peer?: string[];
  json?: string;
  md?: string;
  svg?: string;
}

/** `1,2` → [1, 2]; CLI501 naming the flag otherwise. */
function numberList(flag: string, text: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  const values = items.map(Number);
  if (items.some((s) => s === '') || values.some((n) => !Number.isSafeInteger(n) || n < 1 ||
    n > 1024)) {
    throw new SmeltError('CLI501', `${flag} ${text}: expected a list of whole numbers ` +
      'from 1 to 1024, e.g. 1,2');
  }
  return [...new Set(values)];
}

function write(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SmeltError('CLI502', `cannot write ${path}: ${reason}`);
  }
}

export async function benchCommand(specPath: string, flags: BenchFlags): Promise<void> {
  // every flag is checked before anything slow starts
  const backends = [...new Set(flags.backends.split(',').map((s) => s.trim()))].map(backendNamed);
  const threads = numberList('--threads', flags.threads);
  const layouts = parseLayouts(flags.quant);
  const peers = (flags.peer ?? []).map(parsePeer);
  for (const peer of peers) checkPeer(peer, flags.weights);
  const loaded = loadFromFlags(specPath, flags);
  const maxContext = Math.min(...loaded.model.states.map((s) => s.shape[0]!));
  if (flags.prompt + flags.gen > maxContext) {
    throw new SmeltError('CLI501', `--prompt ${flags.prompt} + --gen ${flags.gen} positions ` +
      `exceed the context of ${maxContext} (the spec's seq_len)`);
  }
  const weights = flags.weights ?? `random weights, seed ${flags.randomWeights}`;
  const load = loadavg()[0]!;

  const ceilings = machineCeilings(threads, flags.probe ?? false, (file) => process.stderr.write(
    `smelt: measuring read bandwidth and FMA peak (kept in ${file}; --probe re-measures)\n`));
  const plan = { loaded, backends, layouts, threads, prompt: flags.prompt, gen: flags.gen,
    repeat: flags.repeat, perKernel: flags.perKernel ?? false, ceilings };
  const bar = new cliProgress.SingleBar({ stream: process.stderr, hideCursor: true,
    format: 'bench [{bar}] {value}/{total} {what}', clearOnComplete: true },
  cliProgress.Presets.shades_classic);
  bar.start(workUnits(plan), 0, { what: '' });
  let measured;
  try {
    measured = await runCombos({ ...plan, onProgress: (what) => bar.increment({ what }) });
  } finally {
    bar.stop();
  }
  const { rows, work } = measured;
  for (const peer of peers) {
    rows.push(...peerRows(peer, { weights: flags.weights, threads, prompt: flags.prompt,
      gen: flags.gen, repeat: flags.repeat, work, ceilings }));
  }

  const report: BenchReport = {
    spec: specPath, weights, prompt: flags.prompt, gen: flags.gen, repeat: flags.repeat,
    machine: { cpu: cpuModel(), cores: availableParallelism(), load,
      ceilings: threads.map((t) => ({ threads: t,
        readGBps: ceilings.readBytesPerSecond[t]! / 1e9,
        gflops: ceilings.flopsPerSecond[t]! / 1e9 })),
      probedAt: ceilings.measuredAt },
    work,
    agree: rows.every((r) => r.agreement.agrees !== false),
    rows,
    createdAt: new Date().toISOString(),
  };
  process.stdout.write(terminalReport(report));
  if (flags.json) write(flags.json, JSON.stringify(report, null, 2) + '\n');
  if (flags.md) write(flags.md, markdownReport(report));
  if (flags.svg) write(flags.svg, await chartsSvg(report));
}
