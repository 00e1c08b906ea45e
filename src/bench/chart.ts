// `--svg`: the report as two charts in one SVG, drawn by Vega-Lite and rendered headlessly
// by Vega (no browser, no canvas, no network): tokens/s by backend × layout × threads
// (prefill and decode, bars at the median, whiskers min–max), and a roofline — per-kernel
// points from `--per-kernel` (else one point per row and phase) under the machine's
// ceilings, min(FMA peak, bandwidth × FLOP/byte), on log-log axes.
//
// Vega-Lite over hand-drawn SVG: scales, log axes, legends and facets come for free and
// the chart specs below stay declarative; both packages are ESM, well kept and offline.

import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { BenchReport } from './types.js';

type Datum = Record<string, string | number>;

function throughputData(report: BenchReport): Datum[] {
  return report.rows.flatMap((r) => (['prefill', 'decode'] as const).map((phase) => {
    const s = r[phase].tokensPerSecond;
    return { combo: `${r.backend} ${r.layout}`, threads: `${r.threads}T`, phase,
      tps: s.median, min: s.min, max: s.max };
  })).filter((d) => Number.isFinite(d.tps));
}

function pointData(report: BenchReport): Datum[] {
  const kernels = report.rows.flatMap((r) => (r.kernels ?? []).map((k) => ({
    label: `${k.kernel} (${r.backend} ${r.threads}T)`, phase: k.phase,
    series: `${r.backend}/${r.layout}/${r.threads}T`, intensity: k.intensity,
    gflops: k.gflops })));
  const points = kernels.length > 0 ? kernels : report.rows.flatMap((r) => {
    const w = report.work;
    return [
      { label: `${r.backend} ${r.layout} ${r.threads}T prefill`, phase: 'prefill',
        series: `${r.backend}/${r.layout}/${r.threads}T`, gflops: r.prefill.gflops,
        intensity: w.prefillFlops / w.prefillWeightBytes },
      { label: `${r.backend} ${r.layout} ${r.threads}T decode`, phase: 'decode',
        series: `${r.backend}/${r.layout}/${r.threads}T`, gflops: r.decode.gflops,
        intensity: w.decodeFlopsPerToken / w.decodeWeightBytesPerToken },
    ];
  });
  return points.filter((p) => p.intensity > 0 && p.gflops > 0 && Number.isFinite(p.gflops));
}

/** Each thread count's ceiling, sampled from below the points to past the ridge. */
function ceilingData(report: BenchReport, points: Datum[]): Datum[] {
  const xs = points.map((p) => p.intensity as number);
  const ridges = report.machine.ceilings.map((c) => c.gflops / c.readGBps);
  const from = Math.floor(Math.log10(Math.min(...xs, ...ridges) / 2) * 8) / 8;
  const to = Math.log10(Math.max(...xs, ...ridges) * 3);
  const out: Datum[] = [];
  for (const c of report.machine.ceilings) {
    for (let e = from; e <= to; e += 0.125) {
      const intensity = 10 ** e;
      out.push({ ceiling: `${c.threads}T ceiling`, intensity,
        gflops: Math.min(c.gflops, c.readGBps * intensity) });
    }
  }
  return out;
}

function throughputChart(report: BenchReport) {
  const y = { field: 'tps', type: 'quantitative', title: 'tokens/s (median)' };
  return {
    title: 'tokens/s by backend × layout × threads (whiskers: min–max)',
    data: { values: throughputData(report) },
    facet: { column: { field: 'phase', type: 'nominal', title: null,
      sort: ['prefill', 'decode'] } },
    spec: {
      width: 260, height: 220,
      encoding: { x: { field: 'combo', type: 'nominal', title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'threads' }, color: { field: 'threads', title: 'threads' } },
      layer: [
        { mark: 'bar', encoding: { y } },
        { mark: { type: 'rule', color: 'black' }, encoding: {
          y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' } } },
      ],
    },
    resolve: { scale: { y: 'independent' } },
  };
}

function rooflineChart(report: BenchReport) {
  const x = { field: 'intensity', type: 'quantitative', scale: { type: 'log' },
    title: 'arithmetic intensity (FLOP/byte)' };
  const y = { field: 'gflops', type: 'quantitative', scale: { type: 'log' }, title: 'GFLOP/s' };
  const points = pointData(report);
  return {
    title: 'roofline: ' + (report.rows.some((r) => r.kernels) ? 'per-kernel points'
      : 'one point per row and phase'),
    width: 560, height: 320,
    layer: [
      { data: { values: ceilingData(report, points) }, mark: { type: 'line', strokeDash: [4, 3] },
        encoding: { x, y, detail: { field: 'ceiling' },
          color: { field: 'ceiling', title: 'ceiling / series' } } },
      { data: { values: points }, mark: { type: 'point', filled: true, size: 60 },
        encoding: { x, y, color: { field: 'series' }, shape: { field: 'phase' },
          tooltip: [{ field: 'label' }, { field: 'gflops' }, { field: 'intensity' }] } },
    ],
  };
}

/** Both charts, stacked, as one SVG document. */
export async function chartsSvg(report: BenchReport): Promise<string> {
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `smelt bench: ${report.spec} (${report.weights})`,
    vconcat: [throughputChart(report), rooflineChart(report)],
    // threads colour the bars, series the points: two legends, not one merged scale
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
    config: { font: 'sans-serif' },
  };
  const compiled = vegaLite.compile(spec as unknown as vegaLite.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
