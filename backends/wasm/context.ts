// The state of one function while it is rendered: its locals, the scopes of kernel-IR
// names (variables and buffers, each bound to a wasm local) and the loops open around the
// statement being rendered, with the address computations hoisted out of each.

import { InternalError } from '../../ir/diagnostics.js';
import type { ElemType, KExpr, KStmt } from '../../ir/kernel.js';
import type { Expr, ValType, WasmModule } from './module.js';

export type Binding =
  | { kind: 'var'; index: number; type: ValType; depth: number }
  /** `index` is the local holding the buffer's byte address. */
  | { kind: 'buffer'; index: number; elem: ElemType; depth: number };

interface LoopFrame {
  depth: number;
  /** Names assigned (`set`) anywhere in the loop body. */
  assigned: ReadonlySet<string>;
  hoisted: Map<string, number>;
  /** Statements to run before the loop: the hoisted address computations. */
  pre: Expr[];
}

/** One function being rendered: its locals, the scopes of names and the open loops. */
export class FunctionContext {
  readonly vars: ValType[] = [];
  private readonly scopes: Map<string, Binding>[] = [new Map()];
  private readonly loops: LoopFrame[] = [];

  constructor(readonly w: WasmModule, private readonly params: number) {}

  local(type: ValType): number {
    this.vars.push(type);
    return this.params + this.vars.length - 1;
  }

  get depth(): number {
    return this.loops.length;
  }

  get loop(): LoopFrame | undefined {
    return this.loops.at(-1);
  }

  bind(name: string, binding: Binding): void {
    this.scopes.at(-1)!.set(name, binding);
  }

  lookup(name: string): Binding {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const found = this.scopes[i]!.get(name);
      if (found) return found;
    }
    throw new InternalError('wasm render', `\`${name}\` is not declared`);
  }

  variable(name: string): Extract<Binding, { kind: 'var' }> {
    const b = this.lookup(name);
    if (b.kind !== 'var') {
      throw new InternalError('wasm render', `buffer \`${name}\` used as a value`);
    }
    return b;
  }

  buffer(name: string): Extract<Binding, { kind: 'buffer' }> {
    const b = this.lookup(name);
    if (b.kind !== 'buffer') throw new InternalError('wasm render', `\`${name}\` is not a buffer`);
    return b;
  }

  /** Runs `body` in a new scope. */
  scoped<T>(body: () => T): T {
    this.scopes.push(new Map());
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  /** Runs `body` inside a loop frame; returns its result and the hoisted statements. */
  inLoop<T>(assigned: ReadonlySet<string>, body: () => T): { result: T; pre: Expr[] } {
    const frame = { depth: this.loops.length + 1, assigned, hoisted: new Map(), pre: [] };
    this.loops.push(frame);
    try {
      return { result: this.scoped(body), pre: frame.pre };
    } finally {
      this.loops.pop();
    }
  }
}

/** Names assigned by `set` anywhere in `stmts`. */
export function assignedIn(stmts: readonly KStmt[], into = new Set<string>()): Set<string> {
  for (const s of stmts) {
    if (s.k === 'set') into.add(s.name);
    else if (s.k === 'for') assignedIn(s.body, into);
    else if (s.k === 'if') assignedIn([...s.then, ...(s.else ?? [])], into);
  }
  return into;
}

/** The variable names `e` reads, and whether it reads memory. */
export function readsOf(e: KExpr): { names: string[]; memory: boolean } {
  const names: string[] = [];
  let memory = false;
  JSON.stringify(e, (k, value: unknown) => {
    if (k === 'k' && value === 'load') memory = true;
    if (k === 'name' && typeof value === 'string') names.push(value);
    return value;
  });
  return { names, memory };
}
