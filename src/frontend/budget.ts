// How much memory a spec asks for once its numbers are bound, checked before anything is
// allocated: a spec or checkpoint header that asks for more than the machine has is a
// located-as-possible error (RUN605), not an out-of-memory kill minutes later.

import { totalmem } from 'node:os';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Env } from './expr.js';
import { evalDim, evalExpr } from './expr.js';
import type { ArchSpec, DimExpr } from './spec.js';

function elements(shape: DimExpr[], env: Env): number {
  return shape.reduce((n, d) => n * (d.expr === 'seq' ? 1 : evalDim(d.expr, env, d.text)), 1);
}

const GiB = 2 ** 30;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

/** f32 bytes of the weights and of the states (KV cache) the bound spec declares. */
export function budget(arch: ArchSpec, env: Env): { weights: number; states: number } {
  const layers = Number(evalExpr(arch.layerCount, env));
  const sum = (list: { shape: DimExpr[] }[]) =>
    list.reduce((n, w) => n + elements(w.shape, env), 0);
  const own = arch.weights.filter((w) => !w.tiedTo);
  return {
    weights: 4 * (sum(own) + layers * sum(arch.layerWeights)),
    states: 4 * layers * sum(arch.layerStates),
  };
}

export function checkBudget(arch: ArchSpec, env: Env): void {
  const { weights, states } = budget(arch, env);
  const available = totalmem();
  if (weights + states > available) {
    throw new SmeltError('RUN605', `this model needs ${gib(weights + states)} (weights ` +
      `${gib(weights)}, KV cache ${gib(states)}) but the machine has ${gib(available)}; ` +
      'a shorter context shrinks the KV cache (e.g. --param seq_len=4096)');
  }
}
