// Plain TypeScript kernels of the reference interpreter: correctness first, f64 sums.
//
// Every tensor is a row-major Float32Array; shapes in comments use the IR's notation.

import type { RopeFrequencies } from '../../ir/rope.js';
import { invFreq } from '../../ir/rope.js';

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

/** out[seq, dim] = x / sqrt(mean(x²) + eps) * (gainOffset + weight[dim]), per row */
export function rmsnorm(x: Float32Array, w: Float32Array, seq: number, dim: number, eps: number,
  gainOffset = 0) {
  const out = new Float32Array(seq * dim);
  for (let t = 0; t < seq; t++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[t * dim + i]! ** 2;
    const scale = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = x[t * dim + i]! * scale * (gainOffset + w[i]!);
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

/**
 * Rotates pairs of the first `rot` dims of each head by (pos + t) · inv_freq[j]: adjacent
 * pairs (x[2j], x[2j+1]), or with `neox` (x[j], x[j + rot/2]); see ir/rope.ts.
 */
export function rope(x: Float32Array, seq: number, width: number, headSize: number,
  r: RopeFrequencies, pos: number) {
  const out = new Float32Array(x);
  const half = r.rot / 2;
  for (let t = 0; t < seq; t++) {
    for (let h = 0; h < width; h += headSize) {
      for (let j = 0; j < half; j++) {
        const angle = (pos + t) * invFreq(r, j);
        const c = Math.cos(angle) * r.mscale;
        const s = Math.sin(angle) * r.mscale;
        const a = t * width + h + (r.neox ? j : 2 * j);
        const b = a + (r.neox ? half : 1);
        const x0 = x[a]!;
        const x1 = x[b]!;
        out[a] = x0 * c - x1 * s;
        out[b] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}

/** The step's cos and sin per pair: row t holds cos in columns 0..rot/2, sin after them. */
export function ropeTable(seq: number, r: RopeFrequencies, pos: number): Float32Array {
  const half = r.rot / 2;
  const out = new Float32Array(seq * r.rot);
  for (let t = 0; t < seq; t++) {
    for (let j = 0; j < half; j++) {
      const angle = (pos + t) * invFreq(r, j);
      out[t * r.rot + j] = Math.cos(angle) * r.mscale;
      out[t * r.rot + half + j] = Math.sin(angle) * r.mscale;
    }
  }
  return out;
}

/** `rope` with the angles of a ropeTable (a fused projection's epilogue). */
export function ropeFromTable(x: Float32Array, seq: number, width: number, headSize: number,
  table: Float32Array, neox: boolean): Float32Array {
  const out = new Float32Array(x);
  const rot = table.length / seq;
  const half = rot / 2;
  for (let t = 0; t < seq; t++) {
    for (let h = 0; h < width; h += headSize) {
      for (let j = 0; j < half; j++) {
        const c = table[t * rot + j]!;
        const s = table[t * rot + half + j]!;
        const a = t * width + h + (neox ? j : 2 * j);
        const b = a + (neox ? half : 1);
        const x0 = x[a]!;
        const x1 = x[b]!;
        out[a] = x0 * c - x1 * s;
        out[b] = x0 * s + x1 * c;
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
  /** Positions each token sees, itself included (sliding window); 0: all. */
  window?: number;
}

/**
 * Causal grouped-query attention: query head h of token t (at position pos + t) attends
 * to cache rows 0..pos+t of kv head h / (nHeads / nKvHeads). q: [seq, nHeads * headSize],
 * caches: [seq_len, nKvHeads * headSize] → [seq, nHeads * headSize].
 */
export function attention(q: Float32Array, kc: Float32Array, vc: Float32Array, s: AttentionShape) {
  const { seq, pos, nHeads, nKvHeads, headSize } = s;
  const window = s.window || Infinity;
  const width = nHeads * headSize;
  const kvWidth = nKvHeads * headSize;
  const group = nHeads / nKvHeads;
  const out = new Float32Array(seq * width);
  const scores = new Float64Array(pos + seq);
  for (let t = 0; t < seq; t++) {
    const ctx = pos + t + 1;
    const lo = Math.max(0, ctx - window);
    for (let h = 0; h < nHeads; h++) {
      const qo = t * width + h * headSize;
      const ko = Math.floor(h / group) * headSize;
      let max = -Infinity;
      for (let p = lo; p < ctx; p++) {
        let dot = 0;
        for (let i = 0; i < headSize; i++) dot += q[qo + i]! * kc[p * kvWidth + ko + i]!;
        scores[p] = dot / Math.sqrt(headSize);
        max = Math.max(max, scores[p]!);
      }
      let sum = 0;
      for (let p = lo; p < ctx; p++) sum += (scores[p] = Math.exp(scores[p]! - max));
      for (let i = 0; i < headSize; i++) {
        let acc = 0;
        for (let p = lo; p < ctx; p++) acc += scores[p]! * vc[p * kvWidth + ko + i]!;
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

/** out[seq, dim] = (x - mean) / sqrt(var + eps) · weight + bias, per row */
export function layernorm(x: Float32Array, w: Float32Array, b: Float32Array, seq: number,
  dim: number, eps: number) {
  const out = new Float32Array(seq * dim);
  for (let t = 0; t < seq; t++) {
    const row = x.subarray(t * dim, (t + 1) * dim);
    let mean = 0;
    for (let i = 0; i < dim; i++) mean += row[i]!;
    mean /= dim;
    let vr = 0;
    for (let i = 0; i < dim; i++) vr += (row[i]! - mean) ** 2;
    const scale = 1 / Math.sqrt(vr / dim + eps);
    for (let i = 0; i < dim; i++) out[t * dim + i] = (row[i]! - mean) * scale * w[i]! + b[i]!;
  }
  return out;
}

/** out[seq, dim] = x + bias[dim] on every row */
export function addBias(x: Float32Array, bias: Float32Array) {
  return x.map((v, i) => v + bias[i % bias.length]!);
}

/** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
export function gelu(x: Float32Array) {
  const c = Math.sqrt(2 / Math.PI);
  return x.map((v) => 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v ** 3))));
}

/** out[t, :] = x[t, :] + table[pos + t, :] */
export function posEmbed(x: Float32Array, table: Float32Array, dim: number, pos: number) {
  return x.map((v, i) => v + table[pos * dim + i]!);
}

/** out[seq, size] = x[:, start .. start + size] */
export function slice(x: Float32Array, seq: number, width: number, start: number, size: number) {
  const out = new Float32Array(seq * size);
  for (let t = 0; t < seq; t++) {
    out.set(x.subarray(t * width + start, t * width + start + size), t * size);
  }
  return out;
}

export function scale(x: Float32Array, by: number) {
  return x.map((v) => v * by);
}

/** cap · tanh(x / cap) */
export function softcap(x: Float32Array, cap: number) {
  return x.map((v) => cap * Math.tanh(v / cap));
}

export interface MoeShape {
  seq: number;
  dim: number;
  experts: number;
  hidden: number;
  topK: number;
  /** Divide the chosen experts' probabilities by their sum (Mixtral); else keep them. */
  normTopK: boolean;
}

/**
 * Mixture of experts, per token: p = softmax(x · routerᵀ); the top_k experts by p (the
 * lower index first on ties); out = Σ w_e · down_e(silu(gate_e · x) ⊙ (up_e · x)), with
 * w_e = p_e, divided by the chosen p's sum when normTopK. Only chosen experts are read.
 * router [E, dim], gate/up [E, hidden, dim], down [E, dim, hidden].
 */
export function moe(x: Float32Array, router: Float32Array, gate: Float32Array, up: Float32Array,
  down: Float32Array, s: MoeShape) {
  const { seq, dim, experts, hidden, topK } = s;
  const out = new Float32Array(seq * dim);
  for (let t = 0; t < seq; t++) {
    const row = x.subarray(t * dim, (t + 1) * dim);
    const logits = Array.from({ length: experts }, (_, e) =>
      dot(row, router.subarray(e * dim, (e + 1) * dim)));
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const total = exps.reduce((a, b) => a + b, 0);
    const probs = exps.map((e) => e / total);
    const chosen: number[] = [];
    for (let k = 0; k < topK; k++) {
      let best = -1;
      for (let e = 0; e < experts; e++) {
        if (!chosen.includes(e) && (best < 0 || probs[e]! > probs[best]!)) best = e;
      }
      chosen.push(best);
    }
    const norm = s.normTopK ? chosen.reduce((a, e) => a + probs[e]!, 0) : 1;
    for (const e of chosen) {
      const h = new Float64Array(hidden);
      for (let r = 0; r < hidden; r++) {
        const at = (e * hidden + r) * dim;
        const g = dot(row, gate.subarray(at, at + dim));
        h[r] = (g / (1 + Math.exp(-g))) * dot(row, up.subarray(at, at + dim));
      }
      for (let j = 0; j < dim; j++) {
        const at = (e * dim + j) * hidden;
        let sum = 0;
        for (let r = 0; r < hidden; r++) sum += h[r]! * down[at + r]!;
        out[t * dim + j] = out[t * dim + j]! + (probs[e]! / norm) * sum;
      }
    }
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
