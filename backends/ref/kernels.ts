// Plain TypeScript kernels of the reference interpreter: correctness first, f64 sums.
//
// Every tensor is a row-major Float32Array; shapes in comments use the IR's notation.

/** out[seq, out] = x[seq, in] · w[out, in]ᵀ */
export function matmul(x: Float32Array, w: Float32Array, seq: number, n: number, k: number) {
  const out = new Float32Array(seq * n);
  for (let t = 0; t < seq; t++) {
    const xo = t * k;
    for (let j = 0; j < n; j++) {
      const wo = j * k;
      let sum = 0;
      for (let i = 0; i < k; i++) sum += x[xo + i]! * w[wo + i]!;
      out[t * n + j] = sum;
    }
  }
  return out;
}

/** out[seq, dim] = x / sqrt(mean(x²) + eps) * weight[dim], per row */
export function rmsnorm(x: Float32Array, w: Float32Array, seq: number, dim: number, eps: number) {
  const out = new Float32Array(seq * dim);
  for (let t = 0; t < seq; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i]! ** 2;
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = x[t * dim + i]! * scale * w[i]!;
  }
  return out;
}

/** out[seq, dim] = table[ids[t], :] */
export function embed(table: Float32Array, ids: Int32Array, dim: number, vocab: number) {
  const out = new Float32Array(ids.length * dim);
  ids.forEach((id, t) => {
    if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} outside vocab 0..${vocab - 1}`);
    out.set(table.subarray(id * dim, (id + 1) * dim), t * dim);
  });
  return out;
}

/** Rotates adjacent pairs (x[2i], x[2i+1]) of each head by pos · theta^(-2i/head_size). */
export function rope(x: Float32Array, seq: number, width: number, headSize: number,
  theta: number, pos: number) {
  const out = new Float32Array(x);
  for (let t = 0; t < seq; t++) {
    for (let h = 0; h < width; h += headSize) {
      for (let i = 0; i < headSize; i += 2) {
        const angle = (pos + t) * Math.pow(theta, -i / headSize);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const at = t * width + h + i;
        const x0 = x[at]!;
        const x1 = x[at + 1]!;
        out[at] = x0 * c - x1 * s;
        out[at + 1] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}

export interface AttentionShape {
  seq: number;
  pos: number;
  nHeads: number;
  nKvHeads: number;
  headSize: number;
}

/**
 * Causal grouped-query attention: query head h of token t (at position pos + t) attends
 * to cache rows 0..pos+t of kv head h / (nHeads / nKvHeads). q: [seq, nHeads * headSize],
 * caches: [seq_len, nKvHeads * headSize] → [seq, nHeads * headSize].
 */
export function attention(q: Float32Array, kc: Float32Array, vc: Float32Array, s: AttentionShape) {
  const { seq, pos, nHeads, nKvHeads, headSize } = s;
  const width = nHeads * headSize;
  const kvWidth = nKvHeads * headSize;
  const group = nHeads / nKvHeads;
  const out = new Float32Array(seq * width);
  const scores = new Float64Array(pos + seq);
  for (let t = 0; t < seq; t++) {
    const ctx = pos + t + 1;
    for (let h = 0; h < nHeads; h++) {
      const qo = t * width + h * headSize;
      const ko = Math.floor(h / group) * headSize;
      let max = -Infinity;
      for (let p = 0; p < ctx; p++) {
        let dot = 0;
        for (let i = 0; i < headSize; i++) dot += q[qo + i]! * kc[p * kvWidth + ko + i]!;
        scores[p] = dot / Math.sqrt(headSize);
        max = Math.max(max, scores[p]!);
      }
      let sum = 0;
      for (let p = 0; p < ctx; p++) sum += (scores[p] = Math.exp(scores[p]! - max));
      for (let i = 0; i < headSize; i++) {
        let acc = 0;
        for (let p = 0; p < ctx; p++) acc += scores[p]! * vc[p * kvWidth + ko + i]!;
        out[qo + i] = acc / sum;
      }
    }
  }
  return out;
}

export function silu(x: Float32Array) {
  return x.map((v) => v / (1 + Math.exp(-v)));
}

export function mul(a: Float32Array, b: Float32Array) {
  return a.map((v, i) => v * b[i]!);
}

export function add(a: Float32Array, b: Float32Array) {
  return a.map((v, i) => v + b[i]!);
}
