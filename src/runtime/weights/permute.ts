// Rotary row orders. llama2.c and GGUF rotate adjacent pairs (x[2i], x[2i+1]) of each head;
// Hugging Face checkpoints rotate halves (x[i], x[i + head_size/2]), so their converters
// permute the rows of wq and wk. These move rows between the two orders. `transpose` turns
// GPT-2's Conv1D weights ([in, out]) into the [out, in] of a Linear, and back.

/** Row h·hs + half·hs/2 + i (halves) ↔ row h·hs + 2i + half (pairs), per head. */
function reorder(data: Float32Array, rows: number, cols: number, heads: number,
  toPairs: boolean): Float32Array {
  const hs = rows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < hs / 2; i++) {
        const halves = (h * hs + half * (hs / 2) + i) * cols;
        const pairs = (h * hs + 2 * i + half) * cols;
        const [from, to] = toPairs ? [halves, pairs] : [pairs, halves];
        out.set(data.subarray(from, from + cols), to);
      }
    }
  }
  return out;
}

/** Hugging Face's half-split rows to adjacent pairs (when loading). */
export function halvesToPairs(data: Float32Array, rows: number, cols: number, heads: number) {
  return reorder(data, rows, cols, heads, true);
}

/** Adjacent-pair rows to Hugging Face's half-split order (for writers and tests). */
export function pairsToHalves(data: Float32Array, rows: number, cols: number, heads: number) {
  return reorder(data, rows, cols, heads, false);
}

/** [rows, cols] → [cols, rows]. */
export function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  }
  return out;
}
