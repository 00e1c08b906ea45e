// Seeded random weights, so that every spec runs without a download.
//
// The initialization GPT-2 and Llama use: weights normal(0, 0.02); projections back into
// the residual stream (`init: residual`) scaled by 1/sqrt(2 · n_layers); norm gains one.
// The generator is splitmix32 feeding Box–Muller: the same seed gives the same weights on
// every machine and every Node version.

import type { ModelGraph } from '../frontend/index.js';

const STD = 0.02;

/** A deterministic uniform generator in [0, 1). */
export function uniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 2 ** 32;
  };
}

function fillNormal(out: Float32Array, std: number, next: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - next()));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a) * std;
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(a) * std;
  }
}

export function randomWeights(model: ModelGraph, seed: number): Map<string, Float32Array> {
  const next = uniform(seed);
  const nLayers = Math.max(1, new Set(model.slots.flatMap((w) => w.layer ?? [])).size);
  const weights = new Map<string, Float32Array>();
  for (const slot of model.slots) {
    const data = new Float32Array(slot.shape.reduce((a, b) => a * b, 1));
    switch (slot.decl.init) {
      case 'ones':
        data.fill(1);
        break;
      case 'zeros':
        break;
      case 'normal':
        fillNormal(data, STD, next);
        break;
      case 'residual':
        fillNormal(data, STD / Math.sqrt(2 * nLayers), next);
        break;
    }
    weights.set(slot.name, data);
  }
  return weights;
}
