// Renders a kernel program to one WebAssembly module (through module.ts):
//
//   imports   env.memory (shared with threads), env.exp/cos/sin/pow (Math.*), and with
//             threads the per-instance globals wid (thread id), nthreads, scratch; an
//             instrumented build (profile) also env.tick(call), see `tick`
//   k:<name>  one function per distinct kernel: (buffer byte addresses…, n, pos)
//   forward   (tokens, n, pos, logits) → calls every kernel in order: one step per call
//   barrier   (threads) all threads meet; spins a while, then memory.atomic.wait32
//   exp4      exp of a vector (vmath.ts)
//
// Loops are `if (i < end) loop { body; i += step; br_if (i < end) }` with the bound read
// once (unless the body assigns a name it reads). With threads, every thread runs the same
// `forward`, like the C backend's one `omp parallel` region: a kernel's top-level parallel
// loop is split in contiguous blocks of iterations (OpenMP's static schedule; an iteration
// is computed whole by one thread, so results do not depend on the thread count) and ends
// in a barrier; top-level locals are computed by every thread; any other top-level
// statement runs on thread 0, then a barrier (`omp single`).

import { InternalError, assertNever } from '../../ir/diagnostics.js';
import type { BufferRef, KStmt, Kernel, KernelProgram } from '../../ir/kernel.js';
import type { Expr, ValType } from './module.js';
import { WasmModule } from './module.js';
import { FunctionContext, assignedIn, readsOf } from './context.js';
import { MATH_IMPORTS, address, emit, typeOf, vector } from './expr.js';
import { renderExp4 } from './vmath.js';
import type { MemoryLayout } from './memory.js';
import { CONTROL, arrayBytes, pagesFor } from './memory.js';

/** Barrier polls before a thread sleeps in memory.atomic.wait32. */
const BARRIER_SPINS = 1 << 16;

type ForStmt = Extract<KStmt, { k: 'for' }>;

class KernelRenderer {
  private labels = 0;
  private frame = 0;

  constructor(private readonly ctx: FunctionContext, private readonly threads: boolean,
    private readonly layout: MemoryLayout) {}

  private get w() {
    return this.ctx.w;
  }

  list(stmts: readonly KStmt[]): Expr[] {
    return stmts.flatMap((s) => this.stmt(s));
  }

  /** A kernel's top level: see the note at the top of the file. */
  topLevel(stmts: readonly KStmt[]): Expr[] {
    if (!this.threads) return this.list(stmts);
    const w = this.w;
    const barrier = () => w.call('barrier', [], 'none');
    return stmts.flatMap((s): Expr[] => {
      if (s.k === 'for' && s.parallel) return [...this.loop(s, true), barrier()];
      // locals and local arrays belong to each thread, as in C (never under `omp single`)
      if (s.k === 'let' || s.k === 'array' || s.k === 'comment' || s.k === 'view') {
        return this.stmt(s);
      }
      if (s.k === 'if') {
        const arm = (stmts: KStmt[]) => w.block(this.ctx.scoped(() => this.topLevel(stmts)));
        return [w.when(this.condition(s.cond), arm(s.then), s.else ? arm(s.else) : undefined)];
      }
      const single = this.ctx.scoped(() => this.stmt(s));
      const first = w.compare('eq', 'i32', w.global('wid'), w.i32(0));
      return [w.when(first, w.block(single)), barrier()];
    });
  }

  stmt(s: KStmt): Expr[] {
    const { ctx, w } = this;
    switch (s.k) {
      case 'for':
        return this.loop(s, false);
      case 'let': {
        if (s.lanes !== 1 && s.type !== 'f32') {
          throw new InternalError('wasm render', `local ${s.name}: ${s.type} × ${s.lanes}`);
        }
        const type: ValType = s.lanes === 1 ? s.type : vector(s.lanes);
        const value = emit(ctx, s.value, type); // before binding: `let x = x + 1` reads the outer x
        const index = ctx.local(type);
        ctx.bind(s.name, { kind: 'var', index, type, depth: ctx.depth });
        return [w.set(index, value)];
      }
      case 'set': {
        const b = ctx.variable(s.name);
        return [w.set(b.index, emit(ctx, s.value, b.type))];
      }
      case 'store': {
        const elem = ctx.buffer(s.buf).elem;
        const { ptr, offset } = address(ctx, s.buf, s.index);
        if (s.lanes === 1 && (elem === 'i8' || elem === 'u8')) {
          return [w.store8(ptr, offset, emit(ctx, s.value, 'i32'))];
        }
        const type = s.lanes === 1 ? elem as 'f32' | 'i32' : vector(s.lanes);
        return [w.store(type, ptr, offset, emit(ctx, s.value, type))];
      }
      case 'view': {
        const index = ctx.local('i32');
        const at = address(ctx, s.buf, s.offset);
        ctx.bind(s.name, { kind: 'buffer', index, elem: s.type, depth: ctx.depth });
        return [w.set(index, w.arith('add', 'i32', at.ptr, w.i32(at.offset)))];
      }
      case 'array': {
        const index = ctx.local('i32');
        const base = this.threads ? w.global('scratch') : w.i32(this.layout.scratch);
        const set = w.set(index, w.arith('add', 'i32', base, w.i32(this.frame)));
        this.frame += arrayBytes(s.size);
        ctx.bind(s.name, { kind: 'buffer', index, elem: 'f32', depth: ctx.depth });
        return s.zero ? [set, w.fill(w.get(index, 'i32'), w.i32(s.size * 4))] : [set];
      }
      case 'if':
        return [w.when(this.condition(s.cond), w.block(ctx.scoped(() => this.list(s.then))),
          s.else ? w.block(ctx.scoped(() => this.list(s.else!))) : undefined)];
      case 'comment':
        return [];
      case 'prefetch': {
        const { ptr, offset } = address(ctx, s.buf, s.index);
        return [w.drop(w.load('i32', ptr, offset))];
      }
      default:
        return assertNever(s, 'kernel statement');
    }
  }

  private condition(c: Extract<KStmt, { k: 'if' }>['cond']): Expr {
    const t = [typeOf(this.ctx, c.a), typeOf(this.ctx, c.b)];
    const type = t.includes('f64') ? 'f64' : t.includes('f32') ? 'f32' : 'i32';
    if (t.includes('v128')) throw new InternalError('wasm render', 'a branch on a vector');
    const op = ({ '<': 'lt', '<=': 'le', '>=': 'ge', '==': 'eq' } as const)[c.op];
    return this.w.compare(op, type, emit(this.ctx, c.a, type), emit(this.ctx, c.b, type));
  }

  /** A `for`, or with `split` this thread's contiguous block of its iterations. */
  private loop(s: ForStmt, split: boolean): Expr[] {
    const { ctx, w } = this;
    const i = ctx.local('i32');
    const end = ctx.local('i32');
    const setup = split ? this.partition(s, i, end)
      : [w.set(i, emit(ctx, s.from, 'i32')), w.set(end, emit(ctx, s.to, 'i32'))];
    const assigned = assignedIn(s.body);
    // a bound the body assigns is read again on every test, as C does
    const moving = !split && readsOf(s.to).names.some((name) => assigned.has(name));
    const more = () => w.compare('lt', 'i32', w.get(i, 'i32'),
      moving ? emit(ctx, s.to, 'i32') : w.get(end, 'i32'));
    const label = `L${this.labels++}`;
    const { result: body, pre } = ctx.inLoop(assigned, () => {
      ctx.bind(s.var, { kind: 'var', index: i, type: 'i32', depth: ctx.depth });
      return [...this.list(s.body),
        w.set(i, w.arith('add', 'i32', w.get(i, 'i32'), w.i32(s.step))),
        w.brIf(label, more())];
    });
    const guard = w.compare('lt', 'i32', w.get(i, 'i32'),
      moving ? emit(ctx, s.to, 'i32') : w.get(end, 'i32'));
    return [...setup, ...pre, w.when(guard, w.loop(label, w.block(body)))];
  }

  /**
   * Iterations from..to by step, count c, split over T threads as OpenMP's static schedule
   * does: thread t takes q = c / T of them, one more if t < c mod T, in thread order.
   */
  private partition(s: ForStmt, i: number, end: number): Expr[] {
    const { ctx, w } = this;
    const [from, count, q, r, lo] = Array.from({ length: 5 }, () => ctx.local('i32'));
    const get = (n: number | undefined) => w.get(n!, 'i32');
    const op = (o: 'add' | 'sub' | 'mul' | 'div' | 'rem', a: Expr, b: Expr) =>
      w.arith(o, 'i32', a, b);
    const wid = () => w.global('wid');
    const threads = () => w.global('nthreads');
    const span = op('sub', emit(ctx, s.to, 'i32'), get(from!));
    const steps = s.step === 1 ? span
      : op('div', op('add', span, w.i32(s.step - 1)), w.i32(s.step));
    return [
      w.set(from!, emit(ctx, s.from, 'i32')),
      w.set(count!, steps),
      w.set(count!, w.select(w.compare('lt', 'i32', get(count!), w.i32(0)), w.i32(0), get(count!))),
      w.set(q!, op('div', get(count!), threads())),
      w.set(r!, op('rem', get(count!), threads())),
      w.set(lo!, op('add', op('mul', wid(), get(q!)),
        w.select(w.compare('lt', 'i32', wid(), get(r!)), wid(), get(r!)))),
      w.set(i, op('add', get(from!), op('mul', get(lo!), w.i32(s.step)))),
      w.set(end, op('add', get(from!), op('mul', op('add', op('add', get(lo!), get(q!)),
        w.compare('lt', 'i32', wid(), get(r!))), w.i32(s.step)))),
    ];
  }
}

function renderKernel(w: WasmModule, kernel: Kernel, layout: MemoryLayout): void {
  const params: ValType[] = [...kernel.params.map(() => 'i32' as const), 'i32', 'i32'];
  const ctx = new FunctionContext(w, params.length);
  kernel.params.forEach((p, index) => ctx.bind(p.name, { kind: 'buffer', index, elem: p.type,
    depth: 0 }));
  ctx.bind('n', { kind: 'var', index: kernel.params.length, type: 'i32', depth: 0 });
  ctx.bind('pos', { kind: 'var', index: kernel.params.length + 1, type: 'i32', depth: 0 });
  const body = new KernelRenderer(ctx, w.threads, layout).topLevel(kernel.body);
  w.addFunction(`k:${kernel.name}`, params, ctx.vars, w.block(body));
}

/**
 * An instrumented build's clock: `env.tick(i)` on thread 0 after call i (each kernel ends
 * in a barrier, so the gap between two ticks is that call's time), `tick(-1)` on entry.
 */
function tick(w: WasmModule, call: number): Expr {
  const read = w.drop(w.call('tick', [w.i32(call)], 'f64'));
  return w.threads ? w.when(w.compare('eq', 'i32', w.global('wid'), w.i32(0)), read) : read;
}

/** forward(tokens, n, pos, logits): every kernel call of the step, in order. */
function renderForward(w: WasmModule, program: KernelProgram, layout: MemoryLayout,
  profile: boolean): void {
  const [TOKENS, N, POS, LOGITS] = [0, 1, 2, 3];
  const at = (ref: BufferRef): Expr => {
    const bytes = ref.offset * 4;
    if (ref.region === 'tokens' || ref.region === 'logits') {
      return w.arith('add', 'i32', w.get(ref.region === 'tokens' ? TOKENS : LOGITS, 'i32'),
        w.i32(bytes));
    }
    return w.i32(layout[ref.region] + bytes);
  };
  const calls = program.calls.flatMap((c, i) => {
    const call = w.call(`k:${c.kernel}`, [...c.args.map(at), w.get(N, 'i32'),
      w.get(POS, 'i32')], 'none');
    return profile ? [call, tick(w, i)] : [call];
  });
  const body = profile ? [tick(w, -1), ...calls] : calls;
  w.addFunction('forward', ['i32', 'i32', 'i32', 'i32'], [], w.block(body));
  w.exportFunction('forward');
}

/**
 * All threads meet: the last to arrive resets the count, bumps the generation and, if a
 * thread sleeps, wakes it; the others poll the generation, then sleep on it. A sleeper
 * counts itself before waiting, and wait32 returns at once if the generation moved, so no
 * wake-up is lost (seq-cst: either the last thread sees the count or the sleeper sees the
 * new generation); notify is a call into the engine, skipped when nobody sleeps. A set
 * abort flag (a thread failed) traps instead of waiting forever.
 */
function renderBarrier(w: WasmModule): void {
  const [GEN, SPINS] = [0, 1];
  const word = (byte: number) => w.atomicLoad(w.i32(byte));
  const bump = (byte: number, by: number) => w.drop(w.atomicAdd(w.i32(byte), w.i32(by)));
  const passed = () => w.compare('ne', 'i32', word(CONTROL.generation), w.get(GEN, 'i32'));
  const check = () => w.block([
    w.when(word(CONTROL.abort), w.unreachable()),
    w.when(passed(), w.br('done')),
  ]);
  const last = w.block([
    w.atomicStore(w.i32(CONTROL.count), w.i32(0)),
    w.atomicStore(w.i32(CONTROL.generation), w.arith('add', 'i32', w.get(GEN, 'i32'), w.i32(1))),
    w.when(word(CONTROL.sleepers),
      w.drop(w.notify(w.i32(CONTROL.generation), w.global('nthreads')))),
    w.br('done'),
  ]);
  w.addFunction('barrier', [], ['i32', 'i32'], w.block([
    w.set(GEN, word(CONTROL.generation)),
    w.when(w.compare('eq', 'i32', w.atomicAdd(w.i32(CONTROL.count), w.i32(1)),
      w.arith('sub', 'i32', w.global('nthreads'), w.i32(1))), last),
    w.loop('spin', w.block([check(),
      w.set(SPINS, w.arith('add', 'i32', w.get(SPINS, 'i32'), w.i32(1))),
      w.brIf('spin', w.compare('lt', 'i32', w.get(SPINS, 'i32'), w.i32(BARRIER_SPINS)))])),
    w.loop('sleep', w.block([check(),
      bump(CONTROL.sleepers, 1),
      w.drop(w.wait(w.i32(CONTROL.generation), w.get(GEN, 'i32'))),
      bump(CONTROL.sleepers, -1),
      w.br('sleep')])),
  ], 'done'));
}

/** The whole module, not yet validated or optimized. */
export function renderModule(program: KernelProgram, layout: MemoryLayout,
  threads: boolean, profile = false): WasmModule {
  const w = new WasmModule(threads);
  w.importMemory(pagesFor(layout, 1), threads);
  for (const [name, arity] of Object.entries(MATH_IMPORTS)) {
    w.importFunction(name, Array<ValType>(arity).fill('f64'), 'f64');
  }
  if (profile) w.importFunction('tick', ['i32'], 'f64');
  if (threads) {
    for (const g of ['wid', 'nthreads', 'scratch']) w.importGlobal(g);
    renderBarrier(w);
  }
  renderExp4(w);
  for (const kernel of program.kernels) renderKernel(w, kernel, layout);
  renderForward(w, program, layout, profile);
  return w;
}
