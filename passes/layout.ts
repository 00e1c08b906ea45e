// Layout selection: picks the order and encoding each weight is stored in (ir/layout.ts).
//
//   %5 = weight layers.0.wq : f32[64, 64]          rows (as declared)
//   %16 = matmul %15, %5                    →      %5 stored as panels16 (f32 policy)
//                                           →      %5 stored as q4_0x16 (q4_0 policy)
//
// A 2-D weight whose every consumer is a matmul, fused or not (as a weight operand), or
// an embed (as its table) is stored in panels of the target's vector width: matmuls then
// need no horizontal sums, and embeds gather rows across the panel. Anything else keeps
// rows (f32). The encoding of a panel weight comes from the quantization policy
// (`--quant` or the spec's `quant:` section):
//
//   f32    every panel weight f32                 f16    every panel weight f16
//   q8_0   every panel weight q8_0                q4_0   q4_0, the classifier (tied to the
//                                                        embedding or not) q8_0 (llama.cpp)
//   mixed  q4_0, but the embedding/classifier, attention V and FFN down q8_0
//
// Roles come from the graph, not from names: the classifier is the matmul whose result is
// the graph output, V a matmul read by a kv_write whose cache is attention's third operand
// (or that is attention_kv's third operand itself), FFN down a matmul whose activation is a
// SwiGLU product (mul or swiglu_matmul). The spec's `quant.weights` overrides the policy
// per weight name. A quantized choice for a weight whose rows (reduction length) are not
// whole 32-element blocks falls back to f16, and the report says which weight and why.
// The gate and up weights of one swiglu_matmul share an encoding (the more precise of the
// two; noted). The graph is not rewritten; the decision travels beside it to memory
// planning, lowering and the weight packer.
//
// Caches: with tiled attention, the KV caches [context, kv_width] are stored head-major
// (cacheLayouts), so a task's tile of one kv head is one contiguous run, and the K cache in
// panels of the target's vector width: a vector load is then one dimension of L
// consecutive keys, and attention's scores need no horizontal sums.

import type { Graph, Node } from '../ir/graph.js';
import type { Layout, QuantPolicy, WeightDType } from '../ir/layout.js';
import { ROWS, formatLayout } from '../ir/layout.js';
import { QK } from '../ir/quant.js';
import type { OpKind } from '../ir/ops.js';
import { MATMUL_FORMS } from '../ir/ops.js';
import type { Target } from '../ir/target.js';

export type { QuantPolicy, WeightDType } from '../ir/layout.js';

/** A policy plus per-weight overrides (by leaf name without `layers.<i>.`). */
export interface QuantOptions {
  policy: QuantPolicy;
  weights?: Readonly<Record<string, WeightDType>>;
}

/** One line of the layout report: a weight, its layout, and why. */
export interface LayoutNote {
  weight: string;
  shape: number[];
  layout: string;
  why: string;
}

/** Whether operand `index` of `op` is the weight of a (possibly fused) matmul. */
export function isMatmulWeight(op: OpKind, index: number): boolean {
  return MATMUL_FORMS[op]?.weights.includes(index) ?? false;
}

const isEncoded = (layout: Layout | undefined) =>
  layout !== undefined && layout.kind !== 'rows' && layout.kind !== 'panels';

/** The layout of every weight leaf, by node id. */
export type LayoutPlan = ReadonlyMap<number, Layout>;

type Role = 'embedding' | 'classifier' | 'attention V' | 'FFN down' | 'matmul';

function consumersOf(graph: Graph): Map<number, { node: Node; operand: number }[]> {
  const consumers = new Map<number, { node: Node; operand: number }[]>();
  for (const node of graph.nodes) {
    node.inputs.forEach((input, operand) => {
      const list = consumers.get(input) ?? [];
      list.push({ node, operand });
      consumers.set(input, list);
    });
  }
  return consumers;
}

/** The role a policy cares about of a panel weight, from the ops around it. */
function roleOf(graph: Graph, weight: Node, consumers: ReturnType<typeof consumersOf>): Role {
  const uses = consumers.get(weight.id) ?? [];
  const matmuls = uses.map((u) => u.node).filter((m) => m.op !== 'embed');
  if (matmuls.some((m) => graph.outputs.includes(m.id))) return 'classifier';
  if (uses.some((u) => u.node.op === 'embed')) return 'embedding';
  const readsV = (m: Node) => (consumers.get(m.id) ?? []).some((u) =>
    (u.node.op === 'attention_kv' && u.operand === 2) || (u.node.op === 'kv_write' &&
      (consumers.get(u.node.id) ?? []).some((a) => a.node.op === 'attention' && a.operand === 2)));
  if (matmuls.some(readsV)) return 'attention V';
  const swiglu = (m: Node) => ['mul', 'swiglu_matmul'].includes(graph.nodes[m.inputs[0]!]!.op);
  if (matmuls.some(swiglu)) return 'FFN down';
  return 'matmul';
}

/** What the policy asks for a weight of this role, and the reason to print. */
function policyDType(options: QuantOptions, role: Role, name: string): [WeightDType, string] {
  const short = name.replace(/^layers\.\d+\./, '');
  const given = options.weights?.[short];
  if (given) return [given, `quant.weights.${short}`];
  const p = options.policy;
  if (p === 'mixed' || p === 'q4_0') {
    const keep = p === 'mixed' ? ['embedding', 'classifier', 'attention V', 'FFN down']
      : ['classifier'];
    if (keep.includes(role)) return ['q8_0', `${p} keeps the ${role} at q8_0`];
    return ['q4_0', `${p} policy`];
  }
  return [p, `${p} policy`];
}

/** Most precise first: a SwiGLU pair whose two weights differ takes the first of these. */
const PRECISION: readonly WeightDType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export function selectLayouts(graph: Graph, target: Target,
  quant: QuantOptions = { policy: 'f32' }, notes?: LayoutNote[]): LayoutPlan {
  const consumers = consumersOf(graph);
  const chosen = new Map<number, { dtype: WeightDType; why: string }>();
  for (const node of graph.nodes) {
    if (node.op !== 'weight') continue;
    const uses = consumers.get(node.id) ?? [];
    const shape = node.type.shape as number[];
    const packable = shape.length === 2 && uses.length > 0 && uses.every((u) =>
      isMatmulWeight(u.node.op, u.operand) || (u.node.op === 'embed' && u.operand === 0));
    if (!packable) continue;
    let [dtype, why] = policyDType(quant, roleOf(graph, node, consumers), node.name!);
    if ((dtype === 'q8_0' || dtype === 'q4_0') && shape[1]! % QK !== 0) {
      why = `fallback: rows of ${shape[1]} are not whole ${QK}-element ${dtype} blocks`;
      dtype = 'f16';
    }
    chosen.set(node.id, { dtype, why });
  }
  // one swiglu_matmul kernel reads gate and up with the same loops: one encoding for both
  for (const node of graph.nodes.filter((n) => n.op === 'swiglu_matmul')) {
    const [gate, up] = [chosen.get(node.inputs[2]!)!, chosen.get(node.inputs[3]!)!];
    if (gate.dtype === up.dtype) continue;
    const dtype = PRECISION.find((d) => d === gate.dtype || d === up.dtype)!;
    for (const [mine, other] of [[gate, 3], [up, 2]] as const) {
      if (mine.dtype === dtype) continue;
      mine.dtype = dtype;
      mine.why += `; raised to ${dtype} like ${graph.nodes[node.inputs[other]!]!.name}, ` +
        'its SwiGLU partner';
    }
  }
  const plan = new Map<number, Layout>();
  for (const node of graph.nodes) {
    if (node.op !== 'weight') continue;
    const choice = chosen.get(node.id);
    if (!choice) {
      plan.set(node.id, ROWS);
      continue;
    }
    const { dtype, why } = choice;
    const layout: Layout = dtype === 'f32' ? { kind: 'panels', lanes: target.lanes }
      : { kind: dtype, lanes: target.lanes };
    plan.set(node.id, layout);
    notes?.push({ weight: node.name!, shape: node.type.shape as number[],
      layout: formatLayout(layout), why });
  }
  return plan;
}

/**
 * Gains folded into weights: W' = W · diag(gain) for a weight read only by normalized
 * matmuls (rms_matmul, swiglu_matmul) with one and the same gain. The fused kernel then
 * skips the per-element x·gain product (exact in real arithmetic; rounding differs by an
 * ulp). A weight with any other reader (the tied embedding, read by `embed`) keeps the
 * product in the kernel instead, and so does a weight in an encoded layout (f16, q8_0, q4_0):
 * it stays bit for bit what the checkpoint holds. Maps weight node id → gain node id.
 */
export function selectFolds(graph: Graph, layouts: LayoutPlan): ReadonlyMap<number, number> {
  const gains = new Map<number, Set<number> | 'no'>();
  for (const node of graph.nodes) {
    node.inputs.forEach((input, i) => {
      if (graph.nodes[input]!.op !== 'weight') return;
      // encoded weights (f16, q8_0, q4_0) stay as the checkpoint has them: the kernel
      // applies the gain
      if (isEncoded(layouts.get(input))) gains.set(input, 'no');
      const normed = MATMUL_FORMS[node.op]?.norm === true && isMatmulWeight(node.op, i);
      const seen = gains.get(input);
      if (!normed || seen === 'no') {
        gains.set(input, 'no');
        return;
      }
      gains.set(input, new Set([...(seen ?? []), node.inputs[1]!]));
    });
  }
  const folds = new Map<number, number>();
  for (const [weight, set] of gains) {
    if (set !== 'no' && set.size === 1) folds.set(weight, [...set][0]!);
  }
  return folds;
}

/**
 * The KV caches tiled attention reads (through their kv_write, or directly as attention_kv
 * operands): head-major, the K cache in panels of the target's vector width (heads(S, L)),
 * the V cache as rows per head (heads(S, 1)), S = head size. attention_kv has only the tiled
 * kernel, so its caches are head-major even when `tiled` (the plain attention) is off.
 */
export function cacheLayouts(graph: Graph, target: Target, tiled = true): LayoutPlan {
  const plan = new Map<number, Layout>();
  for (const node of graph.nodes) {
    // the K and V cache states, each in its place (undefined: not a kv_write's state)
    const caches = node.op === 'attention_kv' ? [node.inputs[3]!, node.inputs[4]!]
      : node.op === 'attention' && tiled ? [node.inputs[1]!, node.inputs[2]!]
        .map((id) => graph.nodes[id]!).map((w) => (w.op === 'kv_write' ? w.inputs[0] : undefined))
        : [];
    if (caches.length === 0) continue;
    const size = (node.type.shape[1] as number) / (node.attrs.n_heads as number);
    const [keys, values] = caches;
    if (keys !== undefined) plan.set(keys, { kind: 'heads', size, lanes: target.lanes });
    if (values !== undefined) plan.set(values, { kind: 'heads', size, lanes: 1 });
  }
  return plan;
}
