// The linear memory of a wasm model, laid out from the kernel program's memory plan:
//
//   0      control words (each on its own 64-byte line): barrier count, barrier generation,
//          step counter and step arguments (threads), abort flag, barrier sleepers
//   256    weights | states (KV cache) | arena | tokens [maxTokens] i32 | logits [maxTokens,
//          vocab] f32 | one scratch frame per thread (the kernels' local arrays)
//
// Every region starts on a 64-byte boundary. The module bakes the fixed offsets in as
// constants; scratch frames come last, so the thread count only changes the memory size.
// A wasm32 memory holds at most 4 GiB: a plan past that is refused here, at compile time.

import { SmeltError } from '../../ir/diagnostics.js';
import type { KStmt, KernelProgram } from '../../ir/kernel.js';

export const PAGE = 65536;
/** wasm32 addresses 2^32 bytes: 65536 pages of 64 KiB. */
export const MAX_PAGES = 65536;

/** Byte addresses of the control words (i32 each). */
export const CONTROL = {
  count: 0, // threads that reached the current barrier
  generation: 64, // barrier generation: bumped when the last thread arrives
  step: 128, // bumped by thread 0 to start a step on the others
  args: 132, // n, pos, tokens, logits of that step (4 × i32)
  abort: 192, // set by a thread that failed, so the others stop waiting
  sleepers: 224, // threads asleep in a barrier (no notify needed when 0)
} as const;
const HEADER = 256;

export interface MemoryLayout {
  weights: number;
  states: number;
  arena: number;
  tokens: number;
  logits: number;
  /** Where the first thread's scratch frame starts. */
  scratch: number;
  /** Bytes of one thread's scratch frame. */
  frame: number;
  /** Region sizes in bytes, for messages. */
  sizes: { weights: number; states: number; arena: number; io: number };
}

const align = (bytes: number, to = 64) => Math.ceil(bytes / to) * to;

/** Bytes one local array takes in a scratch frame (16-byte aligned, for v128 access). */
export function arrayBytes(size: number): number {
  return align(size * 4, 16);
}

function arraysIn(stmts: readonly KStmt[]): number {
  let bytes = 0;
  for (const s of stmts) {
    if (s.k === 'array') bytes += arrayBytes(s.size);
    else if (s.k === 'for') bytes += arraysIn(s.body);
    else if (s.k === 'if') bytes += arraysIn(s.then) + arraysIn(s.else ?? []);
  }
  return bytes;
}

export function planLayout(program: Pick<KernelProgram, 'sizes' | 'maxTokens' | 'vocab' |
  'kernels'>): MemoryLayout {
  const f32 = (n: number) => align(n * 4);
  const { weights, states, arena } = program.sizes;
  const io = { tokens: f32(program.maxTokens), logits: f32(program.maxTokens * program.vocab) };
  const at = { weights: HEADER, states: HEADER + f32(weights) };
  const arenaAt = at.states + f32(states);
  const tokens = arenaAt + f32(arena);
  const logits = tokens + io.tokens;
  return {
    ...at, arena: arenaAt, tokens, logits, scratch: logits + io.logits,
    frame: align(Math.max(0, ...program.kernels.map((k) => arraysIn(k.body)))),
    sizes: { weights: weights * 4, states: states * 4, arena: arena * 4,
      io: io.tokens + io.logits },
  };
}

/** Pages for `threads` threads; BACKEND704 (with the plan's sizes) past 4 GiB. */
export function pagesFor(layout: MemoryLayout, threads: number): number {
  const bytes = layout.scratch + layout.frame * threads;
  if (bytes > MAX_PAGES * PAGE) {
    const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
    const { weights, states, arena, io } = layout.sizes;
    throw new SmeltError('BACKEND704', `the model needs ${gib(bytes)} of memory — weights ` +
      `${gib(weights)}, KV cache ${gib(states)}, arena ${gib(arena)}, tokens and logits ` +
      `${gib(io)} — but a wasm32 module addresses at most 4 GiB; use the c backend, a ` +
      'quantized or smaller model, or a shorter context');
  }
  return Math.max(1, Math.ceil(bytes / PAGE));
}
