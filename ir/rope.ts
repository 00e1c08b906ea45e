// RoPE frequencies: the inverse frequency of every rotated pair, and the factor YaRN puts
// on cos and sin, from a `rope` node's attributes. Shared by the reference interpreter
// and the lowering, so both rotate by the same angles.
//
// Pair j of d = rot_dims rotated dims turns by (pos + t) · inv_freq[j], where the plain
// inv_freq[j] = theta^(-2j/d). The scaling families follow Hugging Face's
// `modeling_rope_utils` (the formulas llama.cpp implements too):
//   linear_factor  f       inv_freq / f (position interpolation)
//   ntk_alpha      a       theta · a^(d / (d - 2)) in place of theta ("NTK-aware")
//   yarn_factor    f       per pair, a blend of inv_freq and inv_freq / f: pairs that turn
//                          more than beta_fast times over yarn_orig_ctx keep inv_freq, fewer
//                          than beta_slow times are divided by f, a linear ramp between;
//                          cos and sin are multiplied by 0.1 · ln f + 1
//   llama3_factor  f       wavelengths above orig_ctx / low_freq_factor divided by f, below
//                          orig_ctx / high_freq_factor kept, smoothly mixed between

import type { Attrs } from './ops.js';

export interface RopeFrequencies {
  /** Rotated dims of each head, from its start. */
  rot: number;
  /** Rotate (i, i + rot/2) rather than (2i, 2i + 1). */
  neox: boolean;
  /** theta after NTK-aware scaling. */
  theta: number;
  /** Per pair: inv_freq[j] = theta^(-2j/rot) · gain[j]. */
  gain: number[];
  /** Multiplies cos and sin (YaRN's attention factor); 1 otherwise. */
  mscale: number;
}

/** Whether the node uses nothing beyond head_size and theta (the original kernel). */
export function isPlainRope(attrs: Attrs): boolean {
  return Object.keys(attrs).every((k) => k === 'head_size' || k === 'theta' ||
    (k === 'neox' && attrs.neox === false) ||
    (k === 'rot_dims' && attrs.rot_dims === attrs.head_size));
}

const num = (attrs: Attrs, key: string, fallback: number) =>
  (attrs[key] as number | undefined) ?? fallback;

export function ropeFrequencies(attrs: Attrs): RopeFrequencies {
  const rot = num(attrs, 'rot_dims', attrs.head_size as number);
  let theta = attrs.theta as number;
  if (attrs.ntk_alpha !== undefined) {
    theta *= Math.pow(attrs.ntk_alpha as number, rot / (rot - 2));
  }
  const base = [...Array(rot / 2).keys()].map((j) => Math.pow(theta, (-2 * j) / rot));
  let gain = base.map(() => 1);
  let mscale = 1;
  if (attrs.linear_factor !== undefined) gain = base.map(() => 1 / (attrs.linear_factor as number));
  if (attrs.yarn_factor !== undefined) {
    const f = attrs.yarn_factor as number;
    gain = yarnGains(rot, theta, f, num(attrs, 'yarn_orig_ctx', 4096),
      num(attrs, 'yarn_beta_fast', 32), num(attrs, 'yarn_beta_slow', 1));
    mscale = f > 1 ? 0.1 * Math.log(f) + 1 : 1;
  }
  if (attrs.llama3_factor !== undefined) {
    gain = base.map((inv) => llama3Gain(inv, attrs.llama3_factor as number,
      num(attrs, 'llama3_low_freq_factor', 1), num(attrs, 'llama3_high_freq_factor', 4),
      num(attrs, 'llama3_orig_ctx', 8192)));
  }
  return { rot, neox: attrs.neox === true, theta, gain, mscale };
}

function yarnGains(rot: number, theta: number, f: number, origCtx: number, betaFast: number,
  betaSlow: number): number[] {
  // the pair index where a frequency turns `turns` times over the original context
  const pairAt = (turns: number) =>
    (rot * Math.log(origCtx / (turns * 2 * Math.PI))) / (2 * Math.log(theta));
  const low = Math.max(Math.floor(pairAt(betaFast)), 0);
  let high = Math.min(Math.ceil(pairAt(betaSlow)), rot - 1);
  if (low === high) high += 0.001;
  return [...Array(rot / 2).keys()].map((j) => {
    const ramp = Math.min(1, Math.max(0, (j - low) / (high - low)));
    const keep = 1 - ramp; // share of the unscaled (extrapolated) frequency
    return (1 - keep) / f + keep;
  });
}

function llama3Gain(inv: number, f: number, lowFactor: number, highFactor: number,
  origCtx: number): number {
  const wavelen = (2 * Math.PI) / inv;
  if (wavelen < origCtx / highFactor) return 1;
  if (wavelen > origCtx / lowFactor) return 1 / f;
  const smooth = (origCtx / wavelen - lowFactor) / (highFactor - lowFactor);
  return (1 - smooth) / f + smooth;
}

/** The angle's inverse frequency of pair j. */
export function invFreq(r: RopeFrequencies, j: number): number {
  return Math.pow(r.theta, (-2 * j) / r.rot) * r.gain[j]!;
}
