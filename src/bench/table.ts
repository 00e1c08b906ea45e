// The report as text: an aligned table for the terminal and the same cells as Markdown.
// Every figure carries its unit; throughputs are medians with the min–max of the repeats.

import { formatBytes } from '../cli/format.js';
import type { BenchReport, KernelRow, Row, Stat } from './types.js';

const HEADER = ['backend', 'layout', 'threads', 'compile cold / warm', 'prefill tok/s',
  'GFLOP/s', 'of peak', 'decode tok/s', 'GB/s', 'of BW', 'module memory', 'greedy ids'];
const KERNEL_HEADER = ['phase', 'kernel', 'calls', 'time', 'share', 'GB/s', 'GFLOP/s', 'FLOP/B',
  'what'];
/** The terminal leaves out the kernel's doc line: the kernel name says enough there. */
const TERMINAL_KERNEL_COLUMNS = KERNEL_HEADER.length - 1;

function fixed(x: number): string {
  if (!Number.isFinite(x)) return '—';
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function rate(s: Stat): string {
  return `${fixed(s.median)} (${fixed(s.min)}–${fixed(s.max)})`;
}

const percent = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '—');
const seconds = (s: number) => (s >= 1 ? `${s.toFixed(2)} s` : s >= 0.01
  ? `${(s * 1000).toFixed(0)} ms` : `${(s * 1e6).toFixed(0)} µs`);

function agreementCell(row: Row): string {
  const a = row.agreement;
  if (a.agrees === null) return 'not checked';
  if (a.agrees) return row.backend + `/${row.layout}/${row.threads}T` === a.reference
    ? 'reference' : 'agree';
  const m = a.mismatch!;
  return `DISAGREE at ${m.step}: ${m.got} vs ${m.expected}`;
}

function rowCells(row: Row): string[] {
  const memory = row.memory.moduleBytes === null ? '—' : formatBytes(row.memory.moduleBytes);
  return [row.backend, row.layout, String(row.threads),
    row.compile ? `${seconds(row.compile.coldSeconds)} / ${seconds(row.compile.warmSeconds)}`
      : '—',
    rate(row.prefill.tokensPerSecond), fixed(row.prefill.gflops),
    percent(row.prefill.fractionOfPeak), rate(row.decode.tokensPerSecond),
    fixed(row.decode.gbps), percent(row.decode.fractionOfBandwidth), memory, agreementCell(row)];
}

function kernelCells(k: KernelRow): string[] {
  return [k.phase, k.kernel, String(k.calls), seconds(k.seconds), percent(k.share),
    fixed(k.gbps), fixed(k.gflops), fixed(k.intensity), k.doc];
}

function aligned(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...r[i]!].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd())
    .join('\n');
}

function markdown(rows: string[][]): string {
  const line = (r: string[]) => `| ${r.map((c) => c.replaceAll('|', '\\|')).join(' | ')} |`;
  return [line(rows[0]!), line(rows[0]!.map(() => '---')), ...rows.slice(1).map(line)]
    .join('\n');
}

/** One sentence on whether the backends agree; names the first disagreement. */
export function agreementLine(report: BenchReport): string {
  const own = report.rows.filter((r) => !r.peer);
  const bad = own.filter((r) => r.agreement.agrees === false);
  const run = `${report.prompt} prompt + ${report.gen} generated positions`;
  if (bad.length === 0) {
    return `backends agree: greedy ids equal over ${run} on all ${own.length} combinations ` +
      `(reference ${own[0]?.agreement.reference ?? '—'})`;
  }
  return 'BACKENDS DISAGREE: ' + bad.map((r) => {
    const m = r.agreement.mismatch!;
    return `${r.backend}/${r.layout}/${r.threads}T differs from ${r.agreement.reference} at ` +
      `id ${m.step} (got ${m.got}, expected ${m.expected})`;
  }).join('; ');
}

function machineLine(report: BenchReport): string {
  const m = report.machine;
  return `machine: ${m.cpu}, ${m.cores} cores, load ${m.load.toFixed(2)}; ceilings ` +
    m.ceilings.map((c) => `${c.threads}T ${c.readGBps.toFixed(1)} GB/s read, ` +
      `${c.gflops.toFixed(0)} GFLOP/s f32 FMA`).join('; ') + ` (probed ${m.probedAt})`;
}

function title(report: BenchReport): string {
  return `${report.spec} (${report.weights}): prompt ${report.prompt}, gen ${report.gen}, ` +
    `medians of ${report.repeat} after a warm-up`;
}

/** What the terminal shows; `topKernels` limits each per-kernel table. */
export function terminalReport(report: BenchReport, topKernels = 8): string {
  const parts = [title(report), machineLine(report), agreementLine(report), '',
    aligned([HEADER, ...report.rows.map(rowCells)])];
  for (const row of report.rows.filter((r) => r.kernels)) {
    const shown = (['prefill', 'decode'] as const).flatMap((phase) =>
      row.kernels!.filter((k) => k.phase === phase).slice(0, topKernels));
    parts.push('', `per kernel, ${row.backend}/${row.layout}/${row.threads}T (top ` +
      `${topKernels} per phase):`, aligned([KERNEL_HEADER, ...shown.map(kernelCells)]
      .map((cells) => cells.slice(0, TERMINAL_KERNEL_COLUMNS))));
  }
  return parts.join('\n') + '\n';
}

export function markdownReport(report: BenchReport): string {
  const parts = [`# smelt bench: ${title(report)}`, '', machineLine(report), '',
    agreementLine(report), '', markdown([HEADER, ...report.rows.map(rowCells)])];
  for (const row of report.rows.filter((r) => r.kernels)) {
    parts.push('', `## Per kernel: ${row.backend}/${row.layout}/${row.threads}T`, '',
      markdown([KERNEL_HEADER, ...row.kernels!.map(kernelCells)]));
  }
  return parts.join('\n') + '\n';
}
