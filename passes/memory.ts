// Memory planning: gives every tensor of the graph a place in one of five regions.
//
//   weights  every `weight` leaf, in graph order, each 64-byte aligned
//   states   every `state` leaf (the KV caches); `kv_write` results alias their cache
//   arena    every other intermediate, reusing space whose last reader has run
//   tokens   the `input` leaf (the caller's token ids)
//   logits   the first graph output (the caller's logits buffer)
//
// Weights take the size of their layout (panels pad the last panel with zero rows).
// The arena is planned for the largest step (`maxTokens` rows wherever a shape has `seq`);
// a smaller step uses the first rows of each buffer. Allocation is first-fit over the free
// list in node order; a node's output never overlaps its own operands.
// Preconditions: a verified graph whose first output is not a leaf.

import { InternalError } from '../ir/diagnostics.js';
import type { Graph } from '../ir/graph.js';
import type { BufferRef } from '../ir/kernel.js';
import { layoutSize } from '../ir/layout.js';
import { numel } from '../ir/types.js';
import type { LayoutPlan } from './layout.js';

export interface MemoryPlan {
  /** Where every node's tensor lives, by node id. */
  buffers: BufferRef[];
  /** Region sizes in f32 elements. */
  sizes: { weights: number; states: number; arena: number };
  maxTokens: number;
}

const ALIGN = 16; // f32 elements: 64 bytes, one AVX-512 register

function aligned(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

/** The index of the last node that reads each node (outputs count as read at the end). */
function lastUses(graph: Graph): number[] {
  const last = graph.nodes.map((n) => n.id);
  for (const node of graph.nodes) for (const i of node.inputs) last[i] = node.id;
  for (const out of graph.outputs) last[out] = graph.nodes.length;
  return last;
}

class Arena {
  size = 0;
  private free: { offset: number; size: number }[] = [];

  take(size: number): number {
    const hole = this.free.findIndex((f) => f.size >= size);
    if (hole < 0) {
      this.size += size;
      return this.size - size;
    }
    const block = this.free[hole]!;
    if (block.size === size) this.free.splice(hole, 1);
    else this.free[hole] = { offset: block.offset + size, size: block.size - size };
    return block.offset;
  }

  release(offset: number, size: number): void {
    this.free.push({ offset, size });
    this.free.sort((a, b) => a.offset - b.offset);
    const merged: { offset: number; size: number }[] = [];
    for (const f of this.free) {
      const prev = merged[merged.length - 1];
      if (prev && prev.offset + prev.size === f.offset) prev.size += f.size;
      else merged.push({ ...f });
    }
    this.free = merged;
  }
}

export function planMemory(graph: Graph, maxTokens: number, layouts: LayoutPlan): MemoryPlan {
  if (graph.outputs.length !== 1) {
    throw new InternalError('planMemory', `expected one graph output, got ${graph.outputs.length}`);
  }
  const size = (id: number) => {
    const { shape } = graph.nodes[id]!.type;
    const layout = layouts.get(id);
    if (layout && shape.length === 2) {
      return aligned(layoutSize(layout, shape[0] as number, shape[1] as number));
    }
    return aligned(numel(shape, { seq: maxTokens }));
  };
  const last = lastUses(graph);
  const buffers: BufferRef[] = [];
  const sizes = { weights: 0, states: 0, arena: 0 };
  const arena = new Arena();
  const live: number[] = [];

  for (const node of graph.nodes) {
    // free what no later node reads, before placing this one
    for (let i = live.length - 1; i >= 0; i--) {
      if (last[live[i]!]! < node.id) {
        arena.release(buffers[live[i]!]!.offset, size(live[i]!));
        live.splice(i, 1);
      }
    }
    if (node.op === 'weight' || node.op === 'state') {
      const region = node.op === 'weight' ? 'weights' : 'states';
      buffers.push({ region, offset: sizes[region] });
      sizes[region] += size(node.id);
    } else if (node.op === 'input') {
      buffers.push({ region: 'tokens', offset: 0 });
    } else if (node.op === 'kv_write') {
      buffers.push(buffers[node.inputs[0]!]!);
    } else if (node.id === graph.outputs[0]) {
      buffers.push({ region: 'logits', offset: 0 });
    } else {
      buffers.push({ region: 'arena', offset: arena.take(size(node.id)) });
      live.push(node.id);
    }
  }
  sizes.arena = arena.size;
  return { buffers, sizes, maxTokens };
}
