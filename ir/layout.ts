// Weight layouts: how a weight's elements are ordered in the weights region.
//
//   rows         row-major [N, K], as the graph declares it
//   panels(L)    for a matrix [N, K]: ceil(N / L) panels, each K × L with the L rows of the
//                panel interleaved: packed[p][k][l] = w[p·L + l][k] (zero past row N).
//                A vector load at packed[p][k] gives column k of L consecutive rows, so a
//                matmul broadcasts x[t, k] and accumulates L outputs per FMA, with no
//                horizontal sum; rows can still be gathered (embedding lookup).
//   heads(S, L)  for a KV cache [N positions, K = H·S]: head-major, each head's S columns
//                in panels of L positions: packed[h][p / L][c][p mod L] = x[p][h·S + c].
//                One head's positions are contiguous (attention streams them in one run),
//                and with L > 1 a vector load is column c of L consecutive positions.

export type Layout = { kind: 'rows' } | { kind: 'panels'; lanes: number }
  | { kind: 'heads'; size: number; lanes: number };

export const ROWS: Layout = { kind: 'rows' };

export function formatLayout(layout: Layout): string {
  switch (layout.kind) {
    case 'rows': return 'rows';
    case 'panels': return `panels${layout.lanes}`;
    case 'heads': return `heads${layout.size}x${layout.lanes}`;
  }
}

/** Where element (row, col) of a [·, k] matrix sits in `layout` (for n rows). */
export function layoutIndex(layout: Layout, n: number, k: number, row: number,
  col: number): number {
  switch (layout.kind) {
    case 'rows': return row * k + col;
    case 'panels': {
      const l = layout.lanes;
      return Math.floor(row / l) * k * l + col * l + (row % l);
    }
    case 'heads': {
      const { size, lanes } = layout;
      const panels = Math.ceil(n / lanes);
      const head = Math.floor(col / size);
      return ((head * panels + Math.floor(row / lanes)) * size + (col % size)) * lanes +
        (row % lanes);
    }
  }
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
  if (layout.kind === 'heads') {
    for (let row = 0; row < n; row++) {
      for (let i = 0; i < k; i++) out[layoutIndex(layout, n, k, row, i)] = data[row * k + i]!;
    }
    return out;
  }
  for (let row = 0; row < n; row++) {
    const base = Math.floor(row / lanes) * k * lanes + (row % lanes);
    for (let i = 0; i < k; i++) out[base + i * lanes] = data[row * k + i]!;
  }
  return out;
}
