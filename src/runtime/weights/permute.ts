// Rotary row orders. llama2.c and GGUF rotate adjacent pairs (x[2i], x[2i+1]) of each head;
// Hugging Face checkpoints rotate halves (x[i], x[i + head_size/2]), so their converters
// permute the rows of wq and wk. These put the rows back.

/** HF row h·hs + half·hs/2 + i becomes row h·hs + 2i + half, for each of `heads` heads. */
export function halvesToPairs(data: Float32Array, rows: number, cols: number,
  heads: number): Float32Array {
  const hs = rows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < hs / 2; i++) {
        const from = (h * hs + half * (hs / 2) + i) * cols;
        out.set(data.subarray(from, from + cols), (h * hs + 2 * i + half) * cols);
      }
    }
  }
  return out;
}

/** The inverse: adjacent-pair rows to Hugging Face's half-split order (for writers, tests). */
export function pairsToHalves(data: Float32Array, rows: number, cols: number,
  heads: number): Float32Array {
  const hs = rows / heads;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < hs / 2; i++) {
        const from = (h * hs + 2 * i + half) * cols;
        out.set(data.subarray(from, from + cols), (h * hs + half * (hs / 2) + i) * cols);
      }
    }
  }
  return out;
}
