// KV-cache fusion: the two cache writes of a layer move into its attention kernel.
//
//   %20 = kv_write %1, %16                   →    %22 = attention_kv %18, %19, %17, %1, %2
//   %21 = kv_write %2, %17                              {n_heads=9, n_kv_heads=3}
//   %22 = attention %18, %20, %21 {n_heads=9, n_kv_heads=3}
//
// The new rows of k and v are written by the kernel that reads the caches, so a decode step
// spends no kernel (and, threaded, no barrier) on them: each split-KV task owning the last
// tile writes its kv head's row before reading it. A prefill writes every row in a first
// parallel loop of the same kernel (its tasks read rows other tasks write).
// Preconditions: each cache operand of the attention is a kv_write of a `state` whose
// result nothing else reads, and the state is read by nothing else (the caches are updated
// in place, unseen by other nodes).

import type { Graph, Node } from '../ir/graph.js';
import type { Replacement } from '../ir/rewrite.js';
import { consumers, rewrite } from '../ir/rewrite.js';
import type { FusionReport } from './report.js';
import { describe } from './report.js';

export const NAME = 'fuse-kv';

/** Why `write` cannot move into `attention`, or undefined when it can. */
function blocker(graph: Graph, users: number[][], write: Node): string | undefined {
  if (write.op !== 'kv_write') return `${describe(write)} is not a kv_write`;
  const cache = graph.nodes[write.inputs[0]!]!;
  if (cache.op !== 'state') return `the cache of ${describe(write)} is not a state`;
  if (users[write.id]!.length !== 1) {
    return `${describe(write)} has ${users[write.id]!.length} readers`;
  }
  if (users[cache.id]!.length !== 1) return `state ${cache.name} has other readers`;
  return undefined;
}

export function fuseKv(graph: Graph, report: FusionReport): Graph {
  const users = consumers(graph);
  const replacements = new Map<number, Replacement>();
  for (const att of graph.nodes) {
    if (att.op !== 'attention') continue;
    const [keys, values] = [graph.nodes[att.inputs[1]!]!, graph.nodes[att.inputs[2]!]!];
    const why = blocker(graph, users, keys) ?? blocker(graph, users, values);
    if (why) {
      report.declined(NAME, [keys, values, att], why);
      continue;
    }
    replacements.set(att.id, { op: 'attention_kv', inputs: [att.inputs[0]!, keys.inputs[1]!,
      values.inputs[1]!, keys.inputs[0]!, values.inputs[0]!], attrs: att.attrs });
    report.taken(NAME, [keys, values, att], 'attention_kv');
  }
  return rewrite(graph, replacements, NAME);
}
