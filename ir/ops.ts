// The closed set of graph ops, with their arity, attributes and shape rules.
//
// `OP_TABLE` is typed over every `OpKind`, so a new op fails the build until it states
// how many operands it takes, which attributes it needs and how its result type follows
// from its operands. The frontend uses `infer` to report located spec errors; the verifier
// uses the same rules to check graphs between passes.

import type { Dim, Shape, TensorType } from './types.js';
import { dimEquals, formatShape, formatType } from './types.js';

export type OpKind =
  | 'input' // a graph input (token ids)
  | 'weight' // a named parameter tensor, bound at load time
  | 'state' // a tensor that persists across forward steps (a KV cache)
  | 'embed' // rows of a table gathered by token id
  | 'rmsnorm' // x / rms(x) * weight, over the last dim
  | 'matmul' // x · wᵀ: x [seq, in], w [out, in] → [seq, out]
  | 'rope' // rotary position embedding, adjacent pairs, per head
  | 'kv_write' // write rows pos..pos+seq of a cache; yields the updated cache
  | 'attention' // causal grouped-query attention of q over the caches, positions 0..pos+seq
  | 'silu'
  | 'mul'
  | 'add'
  // primitives of other families (GPT-2, Qwen2, Gemma, Phi-3, Mistral); docs/spec.md
  | 'layernorm' // (x - mean) / sqrt(var + eps) * weight + bias, over the last dim
  | 'add_bias' // x + bias: bias [dim] added to every row
  | 'gelu' // GELU, tanh approximation
  | 'pos_embed' // x + table[pos + t]: learned absolute positions
  | 'slice' // x[:, start .. start + size]: one part of a fused projection
  | 'scale' // x · by, a constant
  | 'softcap' // cap · tanh(x / cap)
  | 'moe' // mixture of experts: router softmax, top-k experts' SwiGLU FFNs, weighted sum
  // fused ops, produced by passes (a spec may write them too)
  | 'rms_matmul' // rmsnorm(x, gain) · wᵀ
  | 'matmul_add' // x · wᵀ + residual
  | 'swiglu_matmul' // silu(rmsnorm(x, gain) · w_gateᵀ) * (rmsnorm(x, gain) · w_upᵀ)
  | 'rope_table' // cos and sin of the step's RoPE angles, [seq, rot_dims]: a fused rope reads it
  | 'rms_matmul_rope' // rope(rmsnorm(x, gain) · wᵀ), the angles from a rope_table
  | 'rms_matmul_bias_rope' // rope(rmsnorm(x, gain) · wᵀ + bias) (Qwen2's q and k)
  | 'matmul_bias' // x · wᵀ + bias
  | 'matmul_bias_add' // x · wᵀ + bias + residual
  | 'rms_matmul_bias' // rmsnorm(x, gain) · wᵀ + bias
  | 'attention_kv'; // kv_write(k_cache, k), kv_write(v_cache, v), then attention over them

export type AttrValue = number | string | boolean;
export type Attrs = Readonly<Record<string, AttrValue>>;

export interface AttrSpec {
  type: 'number' | 'int' | 'bool';
  required: boolean;
  /** The value must be greater than 0 (a norm's eps: 0 or less divides by zero or worse). */
  positive?: boolean;
}

export interface OpInfo {
  /** Operand names in order; they appear in diagnostics ("operand `w` of matmul"). */
  operands: readonly string[];
  attrs: Readonly<Record<string, AttrSpec>>;
  /** Result type, or a message saying which operand is wrong and with what values. */
  infer(inputs: readonly TensorType[], attrs: Attrs): TensorType | ShapeError;
}

/** Why operands do not fit an op; `operand` is the formal name of the one at fault. */
export interface ShapeError {
  error: string;
  operand?: string;
}

export function isShapeError(r: TensorType | ShapeError): r is ShapeError {
  return 'error' in r;
}

const NUMBER = { type: 'number', required: true } as const;
const INT = { type: 'int', required: true } as const;
const OPT_NUMBER = { type: 'number', required: false } as const;
const OPT_INT = { type: 'int', required: false } as const;
const OPT_BOOL = { type: 'bool', required: false } as const;
const POSITIVE = { type: 'number', required: true, positive: true } as const;

/**
 * RoPE attributes beyond head_size and theta, all optional: the rotated part of each head,
 * the pairing, and one frequency-scaling family (ir/rope.ts computes the frequencies).
 */
export const ROPE_ATTRS = {
  rot_dims: OPT_INT, // rotate the first rot_dims of each head (default: all of it)
  neox: OPT_BOOL, // pairs (i, i + rot_dims/2) as in GPT-NeoX / HF, not (2i, 2i+1)
  linear_factor: OPT_NUMBER, // positions divided by the factor
  ntk_alpha: OPT_NUMBER, // NTK-aware: theta · alpha^(d / (d - 2))
  yarn_factor: OPT_NUMBER, // YaRN
  yarn_orig_ctx: OPT_INT,
  yarn_beta_fast: OPT_NUMBER,
  yarn_beta_slow: OPT_NUMBER,
  llama3_factor: OPT_NUMBER, // Llama 3.1 frequency-dependent scaling
  llama3_low_freq_factor: OPT_NUMBER,
  llama3_high_freq_factor: OPT_NUMBER,
  llama3_orig_ctx: OPT_INT,
} as const;

function leaf(): OpInfo {
  const error = 'leaves take their type from the graph';
  return { operands: [], attrs: {}, infer: () => ({ error }) };
}

function last(shape: Shape): Dim {
  return shape[shape.length - 1]!;
}

/** A message naming the op, the operand, and both values. */
function mismatch(op: string, operand: string, want: string, got: TensorType): ShapeError {
  const error = `${op}: operand \`${operand}\` must be ${want}, got ${formatType(got)}`;
  return { error, operand };
}

function elementwise(op: string): OpInfo {
  return {
    operands: ['a', 'b'],
    attrs: {},
    infer([a, b]) {
      if (a!.dtype !== 'f32') return mismatch(op, 'a', 'f32', a!);
      if (b!.dtype !== a!.dtype || b!.shape.length !== a!.shape.length ||
        !a!.shape.every((d, i) => dimEquals(d, b!.shape[i]!))) {
        return mismatch(op, 'b', `${formatType(a!)} like operand \`a\``, b!);
      }
      return a!;
    },
  };
}

type FusedOp = 'rms_matmul' | 'matmul_add' | 'swiglu_matmul' | 'matmul_bias' |
  'matmul_bias_add' | 'rms_matmul_bias' | 'rope_table' | 'rms_matmul_rope' |
  'rms_matmul_bias_rope' | 'attention_kv';
type FamilyOp = 'layernorm' | 'add_bias' | 'gelu' | 'pos_embed' | 'slice' | 'scale' | 'softcap'
  | 'moe';

/** `x` is an f32 matrix [seq, dim]; `op` and `what` name it in the message. */
function rows(op: string, x: TensorType, what = '[seq, dim]'): ShapeError | undefined {
  if (x.dtype === 'f32' && x.shape.length === 2) return undefined;
  return mismatch(op, 'x', `an f32 matrix ${what}`, x);
}

/** `v` is an f32 vector as long as the rows of `x`. */
function vector(op: string, operand: string, v: TensorType, x: TensorType): ShapeError | undefined {
  if (v.dtype === 'f32' && v.shape.length === 1 && dimEquals(v.shape[0]!, last(x.shape))) {
    return undefined;
  }
  return mismatch(op, operand, `f32[${last(x.shape)}] to match x`, v);
}

function unary(op: string, check: (attrs: Attrs) => string | undefined = () => undefined) {
  return (x: TensorType, attrs: Attrs): TensorType | ShapeError => {
    const bad = rows(op, x);
    if (bad) return bad;
    const error = check(attrs);
    return error ? { error: `${op}: ${error}` } : x;
  };
}

const FAMILY_OPS: Readonly<Record<FamilyOp, OpInfo>> = {
  layernorm: {
    operands: ['x', 'weight', 'bias'],
    attrs: { eps: POSITIVE },
    infer: ([x, w, b]) => rows('layernorm', x!) ?? vector('layernorm', 'weight', w!, x!) ??
      vector('layernorm', 'bias', b!, x!) ?? x!,
  },
  add_bias: {
    operands: ['x', 'bias'],
    attrs: {},
    infer: ([x, b]) => rows('add_bias', x!) ?? vector('add_bias', 'bias', b!, x!) ?? x!,
  },
  gelu: { operands: ['x'], attrs: {}, infer: ([x], a) => unary('gelu')(x!, a) },
  pos_embed: {
    operands: ['x', 'table'],
    attrs: {},
    infer([x, table]) {
      const bad = rows('pos_embed', x!);
      if (bad) return bad;
      if (table!.dtype !== 'f32' || table!.shape.length !== 2 ||
        !dimEquals(table!.shape[1]!, last(x!.shape))) {
        return mismatch('pos_embed', 'table', `an f32 matrix [positions, ${last(x!.shape)}]`,
          table!);
      }
      return x!;
    },
  },
  slice: {
    operands: ['x'],
    attrs: { start: INT, size: INT },
    infer([x], attrs) {
      const bad = rows('slice', x!, '[seq, width]');
      if (bad) return bad;
      const start = attrs.start as number;
      const size = attrs.size as number;
      const width = last(x!.shape) as number;
      if (start < 0 || size < 1 || start + size > width) {
        return { error: `slice: start ${start} and size ${size} do not fit the width of ` +
          `\`x\` (${formatType(x!)})`, operand: 'x' };
      }
      return { dtype: 'f32', shape: [x!.shape[0]!, size] };
    },
  },
  scale: { operands: ['x'], attrs: { by: NUMBER }, infer: ([x], a) => unary('scale')(x!, a) },
  softcap: {
    operands: ['x'],
    attrs: { cap: NUMBER },
    infer: ([x], a) => unary('softcap',
      (attrs) => ((attrs.cap as number) > 0 ? undefined : `cap ${attrs.cap} must be > 0`))(x!, a),
  },
  moe: {
    operands: ['x', 'router', 'w_gate', 'w_up', 'w_down'],
    attrs: { top_k: INT, norm_topk: OPT_BOOL },
    infer([x, router, gate, up, down], attrs) {
      const bad = rows('moe', x!);
      if (bad) return bad;
      const dim = last(x!.shape);
      const [experts] = router!.shape;
      if (router!.shape.length !== 2 || !dimEquals(router!.shape[1]!, dim)) {
        return mismatch('moe', 'router', `a matrix [experts, ${dim}]`, router!);
      }
      const ff = gate!.shape[1];
      if (gate!.shape.length !== 3 || gate!.shape[0] !== experts || gate!.shape[2] !== dim) {
        return mismatch('moe', 'w_gate', `[${experts}, hidden, ${dim}] (experts, out, in)`, gate!);
      }
      if (up!.shape.length !== 3 || up!.shape.some((d, i) => d !== gate!.shape[i])) {
        return mismatch('moe', 'w_up', `${formatShape(gate!.shape)} like w_gate`, up!);
      }
      if (down!.shape.length !== 3 || down!.shape[0] !== experts || down!.shape[1] !== dim ||
        down!.shape[2] !== ff) {
        return mismatch('moe', 'w_down', `[${experts}, ${dim}, ${ff}] (experts, out, in)`, down!);
      }
      const k = attrs.top_k as number;
      if (k < 1 || k > (experts as number)) {
        return { error: `moe: top_k ${k} must be between 1 and the ${experts} experts` };
      }
      return x!;
    },
  },
};

const BASE: Readonly<Record<Exclude<OpKind, FusedOp>, OpInfo>> = {
  input: leaf(),
  weight: leaf(),
  state: leaf(),
  embed: {
    operands: ['table', 'ids'],
    attrs: {},
    infer([table, ids]) {
      if (table!.dtype !== 'f32' || table!.shape.length !== 2) {
        return mismatch('embed', 'table', 'an f32 matrix [vocab, dim]', table!);
      }
      if (ids!.dtype !== 'i32' || ids!.shape.length !== 1) {
        return mismatch('embed', 'ids', 'an i32 vector [seq]', ids!);
      }
      return { dtype: 'f32', shape: [ids!.shape[0]!, table!.shape[1]!] };
    },
  },
  rmsnorm: {
    operands: ['x', 'weight'],
    attrs: { eps: POSITIVE, gain_offset: OPT_NUMBER },
    infer([x, w]) {
      if (x!.dtype !== 'f32' || x!.shape.length !== 2) {
        return mismatch('rmsnorm', 'x', 'an f32 matrix [seq, dim]', x!);
      }
      if (w!.shape.length !== 1 || !dimEquals(w!.shape[0]!, last(x!.shape))) {
        return mismatch('rmsnorm', 'weight', `f32[${last(x!.shape)}] to match x`, w!);
      }
      return x!;
    },
  },
  matmul: {
    operands: ['x', 'w'],
    attrs: {},
    infer([x, w]) {
      if (x!.dtype !== 'f32' || x!.shape.length !== 2) {
        return mismatch('matmul', 'x', 'an f32 matrix [seq, in]', x!);
      }
      if (w!.shape.length !== 2 || !dimEquals(w!.shape[1]!, last(x!.shape))) {
        const want = `a matrix [out, ${last(x!.shape)}] (x is ${formatShape(x!.shape)})`;
        return mismatch('matmul', 'w', want, w!);
      }
      return { dtype: 'f32', shape: [x!.shape[0]!, w!.shape[0]!] };
    },
  },
  rope: {
    operands: ['x'],
    attrs: { head_size: INT, theta: NUMBER, ...ROPE_ATTRS },
    infer([x], attrs) {
      const hs = attrs.head_size as number;
      const width = last(x!.shape);
      if (x!.dtype !== 'f32' || x!.shape.length !== 2) {
        return mismatch('rope', 'x', 'an f32 matrix [seq, heads * head_size]', x!);
      }
      if (hs % 2 !== 0 || typeof width !== 'number' || width % hs !== 0) {
        const error = `rope: head_size ${hs} must be even and divide the width of \`x\` ` +
          `(${formatType(x!)})`;
        return { error, operand: 'x' };
      }
      const rot = (attrs.rot_dims as number | undefined) ?? hs;
      if (rot % 2 !== 0 || rot <= 0 || rot > hs) {
        return { error: `rope: rot_dims ${rot} must be even and between 2 and head_size ${hs}` };
      }
      const families = ['linear_factor', 'ntk_alpha', 'yarn_factor', 'llama3_factor']
        .filter((f) => f in attrs);
      if (families.length > 1) {
        return { error: `rope: scaling attributes ${families.join(' and ')} exclude each other` };
      }
      for (const f of families) {
        if (!((attrs[f] as number) > 0)) return { error: `rope: ${f} must be > 0` };
      }
      return x!;
    },
  },
  kv_write: {
    operands: ['cache', 'x'],
    attrs: {},
    infer([cache, x]) {
      if (cache!.dtype !== 'f32' || cache!.shape.length !== 2) {
        return mismatch('kv_write', 'cache', 'an f32 matrix [seq_len, kv_dim]', cache!);
      }
      if (x!.dtype !== 'f32' || x!.shape.length !== 2) {
        return mismatch('kv_write', 'x', `an f32 matrix [seq, ${last(cache!.shape)}]`, x!);
      }
      if (!dimEquals(last(cache!.shape), last(x!.shape))) {
        return mismatch('kv_write', 'x', `[seq, ${last(cache!.shape)}] to match the cache`, x!);
      }
      return cache!;
    },
  },
  attention: {
    operands: ['q', 'k_cache', 'v_cache'],
    attrs: { n_heads: INT, n_kv_heads: INT, window: OPT_INT },
    infer([q, k, v], attrs) {
      const nh = attrs.n_heads as number;
      const nkv = attrs.n_kv_heads as number;
      const qw = last(q!.shape);
      if (q!.shape.length !== 2 || typeof qw !== 'number' || qw % nh !== 0) {
        return mismatch('attention', 'q', `[seq, n_heads * head_size] with n_heads ${nh}`, q!);
      }
      if (nh % nkv !== 0) {
        return { error: `attention: n_heads ${nh} is not a multiple of n_kv_heads ${nkv}` };
      }
      const window = attrs.window as number | undefined;
      if (window !== undefined && window < 1) {
        return { error: `attention: window ${window} must be at least 1 (positions seen)` };
      }
      const kvWidth = (qw / nh) * nkv;
      if (k!.shape.length !== 2 || k!.shape[1] !== kvWidth) {
        const want = `[seq_len, ${kvWidth}] (n_kv_heads × head_size)`;
        return mismatch('attention', 'k_cache', want, k!);
      }
      if (v!.shape.length !== 2 || v!.shape[1] !== kvWidth || v!.shape[0] !== k!.shape[0]) {
        return mismatch('attention', 'v_cache', `${formatShape(k!.shape)} like k_cache`, v!);
      }
      return q!;
    },
  },
  silu: {
    operands: ['x'],
    attrs: {},
    infer([x]) {
      return x!.dtype === 'f32' ? x! : mismatch('silu', 'x', 'f32', x!);
    },
  },
  mul: elementwise('mul'),
  add: elementwise('add'),
  ...FAMILY_OPS,
};

/** Applies the shape rules of the fused ops in order; the first failure is the answer. */
function chain(steps: ((prev: TensorType | undefined) => TensorType | ShapeError)[]) {
  let prev: TensorType | undefined;
  for (const step of steps) {
    const r = step(prev);
    if (isShapeError(r)) return r;
    prev = r;
  }
  return prev!;
}

const EPS = { eps: POSITIVE };

/** A rule's complaint about operand `from`, told in the fused op's operand name `to`. */
function renamed(r: TensorType | ShapeError, to: string, from = 'w'): TensorType | ShapeError {
  if (!isShapeError(r) || r.operand !== from) return r;
  return { error: r.error.replace(`operand \`${from}\``, `operand \`${to}\``), operand: to };
}

/** Operand names of the base ops that a fused op calls otherwise. */
const FUSED_NAMES: Readonly<Record<string, string>> = { weight: 'gain', b: 'residual' };

/**
 * A fused op's shape rule that tells its complaints in its own terms: its name in front,
 * and its operand names (rmsnorm's `weight` is the fused op's `gain`, add's `b` its
 * `residual`), so the spec's author reads the op they wrote.
 */
function told(op: FusedOp, info: OpInfo): OpInfo {
  return {
    ...info,
    infer(inputs, attrs) {
      const r = info.infer(inputs, attrs);
      if (!isShapeError(r)) return r;
      let { error, operand } = r;
      const outer = operand === undefined ? undefined : FUSED_NAMES[operand];
      if (operand !== undefined && outer !== undefined && info.operands.includes(outer)) {
        error = error.replace(`operand \`${operand}\``, `operand \`${outer}\``)
          .replace('like operand `a`', 'like the product');
        operand = outer;
      }
      return { error: error.replace(/^\w+:/, `${op}:`), ...(operand ? { operand } : {}) };
    },
  };
}

const FUSED: Readonly<Record<FusedOp, OpInfo>> = {
  rms_matmul: {
    operands: ['x', 'gain', 'w'],
    attrs: EPS,
    infer: ([x, gain, w], attrs) => chain([
      () => BASE.rmsnorm.infer([x!, gain!], attrs),
      (h) => BASE.matmul.infer([h!, w!], {}),
    ]),
  },
  matmul_add: {
    operands: ['x', 'w', 'residual'],
    attrs: {},
    infer: ([x, w, residual]) => chain([
      () => BASE.matmul.infer([x!, w!], {}),
      (y) => BASE.add.infer([y!, residual!], {}),
    ]),
  },
  swiglu_matmul: {
    operands: ['x', 'gain', 'w_gate', 'w_up'],
    attrs: EPS,
    infer: ([x, gain, gate, up], attrs) => chain([
      () => BASE.rmsnorm.infer([x!, gain!], attrs),
      (h) => renamed(BASE.matmul.infer([h!, gate!], {}), 'w_gate'),
      (g) => {
        // rmsnorm keeps x's type, so the up projection reads x's shape too
        const u = renamed(BASE.matmul.infer([x!, up!], {}), 'w_up');
        return isShapeError(u) ? u : BASE.mul.infer([g!, u], {});
      },
    ]),
  },
  matmul_bias: {
    operands: ['x', 'w', 'bias'],
    attrs: {},
    infer: ([x, w, bias]) => chain([
      () => BASE.matmul.infer([x!, w!], {}),
      (y) => BASE.add_bias.infer([y!, bias!], {}),
    ]),
  },
  matmul_bias_add: {
    operands: ['x', 'w', 'residual', 'bias'],
    attrs: {},
    infer: ([x, w, residual, bias]) => chain([
      () => BASE.matmul.infer([x!, w!], {}),
      (y) => BASE.add_bias.infer([y!, bias!], {}),
      (y) => BASE.add.infer([y!, residual!], {}),
    ]),
  },
  rms_matmul_bias: {
    operands: ['x', 'gain', 'w', 'bias'],
    attrs: EPS,
    infer: ([x, gain, w, bias], attrs) => chain([
      () => BASE.rmsnorm.infer([x!, gain!], attrs),
      (h) => BASE.matmul.infer([h!, w!], {}),
      (y) => BASE.add_bias.infer([y!, bias!], {}),
    ]),
  },
  rope_table: {
    // row t: cos of pair j's angle at position pos + t in column j, its sin in rot/2 + j
    operands: ['ids'],
    attrs: { head_size: INT, theta: NUMBER, ...ROPE_ATTRS },
    infer([ids], attrs) {
      if (ids!.dtype !== 'i32' || ids!.shape.length !== 1) {
        return mismatch('rope_table', 'ids', 'an i32 vector [seq]', ids!);
      }
      const probe = BASE.rope.infer([{ dtype: 'f32', shape: [ids!.shape[0]!,
        attrs.head_size as number] }], attrs);
      if (isShapeError(probe)) return probe;
      const rot = (attrs.rot_dims as number | undefined) ?? (attrs.head_size as number);
      return { dtype: 'f32', shape: [ids!.shape[0]!, rot] };
    },
  },
  rms_matmul_rope: {
    operands: ['x', 'gain', 'w', 'table'],
    attrs: { eps: POSITIVE, head_size: INT, neox: OPT_BOOL },
    infer: ([x, gain, w, table], attrs) => chain([
      () => BASE.rmsnorm.infer([x!, gain!], attrs),
      (h) => BASE.matmul.infer([h!, w!], {}),
      (y) => {
        const hs = attrs.head_size as number;
        const rot = table!.shape[1];
        if (table!.dtype !== 'f32' || table!.shape.length !== 2 || typeof rot !== 'number' ||
          !dimEquals(table!.shape[0]!, y!.shape[0]!)) {
          return mismatch('rms_matmul_rope', 'table', 'an f32 matrix [seq, rot_dims]', table!);
        }
        return BASE.rope.infer([y!], { head_size: hs, theta: 1, rot_dims: rot });
      },
    ]),
  },
  rms_matmul_bias_rope: {
    operands: ['x', 'gain', 'w', 'bias', 'table'],
    attrs: { eps: POSITIVE, head_size: INT, neox: OPT_BOOL },
    infer: ([x, gain, w, bias, table], attrs) => chain([
      () => FUSED.rms_matmul_bias.infer([x!, gain!, w!, bias!], attrs),
      () => FUSED.rms_matmul_rope.infer([x!, gain!, w!, table!], attrs),
    ]),
  },
  attention_kv: {
    // the caches are states, updated in place: rows pos .. pos + seq get k and v
    operands: ['q', 'k', 'v', 'k_cache', 'v_cache'],
    attrs: BASE.attention.attrs,
    infer: ([q, k, v, kc, vc], attrs) => chain([
      () => renamed(renamed(BASE.kv_write.infer([kc!, k!], {}), 'k', 'x'), 'k_cache', 'cache'),
      () => renamed(renamed(BASE.kv_write.infer([vc!, v!], {}), 'v', 'x'), 'v_cache', 'cache'),
      () => BASE.attention.infer([q!, kc!, vc!], attrs),
    ]),
  },
};

export const OP_TABLE: Readonly<Record<OpKind, OpInfo>> = {
  ...BASE,
  ...Object.fromEntries(Object.entries(FUSED).map(([op, info]) =>
    [op, told(op as FusedOp, info)])) as Record<FusedOp, OpInfo>,
};

/**
 * The matmul family in one place: which operands are weights (stored in panels), and which
 * prologue and epilogues each op has. Layout selection, gain folding and the matmul kernels
 * all read it, so a new fused matmul is one line here.
 */
export interface MatmulForm {
  weights: readonly number[];
  norm: boolean; // an RMSNorm prologue on x (operand 1 is its gain)
  bias: boolean;
  residual: boolean;
  rope: boolean; // a RoPE epilogue (the last operand is the step's rope_table)
}

const form = (weights: number[], parts: Partial<MatmulForm> = {}): MatmulForm =>
  ({ weights, norm: false, bias: false, residual: false, rope: false, ...parts });

export const MATMUL_FORMS: Readonly<Partial<Record<OpKind, MatmulForm>>> = {
  matmul: form([1]),
  matmul_add: form([1], { residual: true }),
  matmul_bias: form([1], { bias: true }),
  matmul_bias_add: form([1], { bias: true, residual: true }),
  rms_matmul: form([2], { norm: true }),
  rms_matmul_bias: form([2], { norm: true, bias: true }),
  rms_matmul_rope: form([2], { norm: true, rope: true }),
  rms_matmul_bias_rope: form([2], { norm: true, bias: true, rope: true }),
  swiglu_matmul: form([2, 3], { norm: true }),
};

/** What each fused op computes, in terms of the ops it replaces (for the fusion report). */
export const FUSES: Readonly<Partial<Record<OpKind, string>>> = {
  rms_matmul: 'rmsnorm → matmul',
  matmul_add: 'matmul → add',
  swiglu_matmul: 'rmsnorm → matmul (gate), matmul (up) → silu → mul',
  matmul_bias: 'matmul → add_bias',
  matmul_bias_add: 'matmul → add_bias → add',
  rms_matmul_bias: 'rmsnorm → matmul → add_bias',
  rms_matmul_rope: 'rmsnorm → matmul → rope',
  rms_matmul_bias_rope: 'rmsnorm → matmul → add_bias → rope',
  attention_kv: 'kv_write (k), kv_write (v) → attention',
};

export const OP_KINDS = Object.keys(OP_TABLE) as OpKind[];

export function isOpKind(name: string): name is OpKind {
  return Object.hasOwn(OP_TABLE, name);
}

/** Ops that may be written in a spec's graph; leaves come from declarations instead. */
export function isComputeOp(op: OpKind): boolean {
  return op !== 'input' && op !== 'weight' && op !== 'state';
}
