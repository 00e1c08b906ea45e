// Weight layouts: how a weight's elements are ordered in the weights region.
//
//   rows         row-major [N, K], as the graph declares it
//   panels(L)    for a matrix [N, K]: ceil(N / L) panels, each K × L with the L rows of the
//                panel interleaved: packed[p][k][l] = w[p·L + l][k] (zero past row N).
//                A vector load at packed[p][k] gives column k of L consecutive rows, so a
//                matmul broadcasts x[t, k] and accumulates L outputs per FMA, with no
//                horizontal sum; rows can still be gathered (embedding lookup).

export type Layout = { kind: 'rows' } | { kind: 'panels'; lanes: number };

export const ROWS: Layout = { kind: 'rows' };

export function formatLayout(layout: Layout): string {
  return layout.kind === 'rows' ? 'rows' : `panels${layout.lanes}`;
}

/** f32 elements a [n, k] matrix takes in `layout`. */
export function layoutSize(layout: Layout, n: number, k: number): number {
  return layout.kind === 'rows' ? n * k : Math.ceil(n / layout.lanes) * k * layout.lanes;
}

/** Reorders row-major [n, k] data into `layout`. */
export function pack(data: Float32Array, layout: Layout, n: number, k: number): Float32Array {
  if (layout.kind === 'rows') return data;
  const lanes = layout.lanes;
  const out = new Float32Array(layoutSize(layout, n, k));
  for (let row = 0; row < n; row++) {
    const base = Math.floor(row / lanes) * k * lanes + (row % lanes);
    for (let i = 0; i < k; i++) out[base + i * lanes] = data[row * k + i]!;
  }
  return out;
}
