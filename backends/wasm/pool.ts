// Worker threads for the wasm backend: T − 1 workers (node:worker_threads) plus the calling
// thread, each with its own instance of the same module over one shared memory.
//
// A step: thread 0 writes the step's arguments into the control words, bumps the step
// counter and wakes the workers (Atomics.notify), then runs `forward` itself; every worker
// runs the same `forward`, and the module's barriers keep them in lockstep, so when thread
// 0 returns, the step is done. Between steps a worker polls the step counter for a short
// while (decode steps follow each other closely), then sleeps in Atomics.wait.
//
// Failure: a worker that throws sets the abort flag and wakes the barrier, where thread 0
// then traps; its message comes back synchronously (receiveMessageOnPort). Workers are
// unref'd (they never keep the process alive) and terminated when the pool is closed or
// garbage-collected.

import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { InternalError } from '../../ir/diagnostics.js';
import type { MemoryLayout } from './memory.js';
import { CONTROL } from './memory.js';

/** Step-counter polls before a worker sleeps between steps. */
const STEP_SPINS = 1 << 16;

export interface WorkerSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  threads: number;
  wid: number;
  scratch: number;
  control: typeof CONTROL;
  spins: number;
  port: MessagePort;
}

/** What `forward` imports besides the memory: Math functions and the thread's globals. */
export function imports(memory: WebAssembly.Memory, threads: number, wid: number,
  scratch: number, tick: (call: number) => number = () => 0): WebAssembly.Imports {
  return { env: { memory, wid, nthreads: threads, scratch, exp: Math.exp, cos: Math.cos,
    sin: Math.sin, pow: Math.pow, tick } };
}

/**
 * The body of a worker. It is sent as source text (a worker runs plain JavaScript, under
 * Jest too), so it uses nothing from its surroundings: everything comes in workerData.
 */
function workerMain(): void {
  const d = require('node:worker_threads').workerData as WorkerSetup;
  const words = new Int32Array(d.memory.buffer);
  const step = d.control.step >> 2;
  const args = d.control.args >> 2;
  try {
    // tick: the clock of an instrumented build, read on thread 0 only (the main thread)
    const env = { memory: d.memory, wid: d.wid, nthreads: d.threads, scratch: d.scratch,
      exp: Math.exp, cos: Math.cos, sin: Math.sin, pow: Math.pow, tick: () => 0 };
    const instance = new WebAssembly.Instance(d.module, { env });
    const forward = instance.exports.forward as (...args: number[]) => void;
    d.port.postMessage({ ready: true });
    let seen = 0;
    for (;;) {
      for (let i = 0; i < d.spins && Atomics.load(words, step) === seen; i++);
      Atomics.wait(words, step, seen, 20); // bounded: the loop re-checks
      const now = Atomics.load(words, step);
      if (now === seen) continue;
      seen = now;
      if (words[args]! < 0) return; // closed
      forward(words[args + 2]!, words[args]!, words[args + 1]!, words[args + 3]!);
    }
  } catch (e) {
    d.port.postMessage({ error: `worker ${d.wid}: ${(e as Error)?.stack ?? String(e)}` });
    Atomics.store(words, d.control.abort >> 2, 1);
    Atomics.notify(words, d.control.generation >> 2);
  }
}

const finalizer = new FinalizationRegistry((workers: Worker[]) => {
  for (const w of workers) void w.terminate();
});

export class WorkerPool {
  private readonly words: Int32Array;
  private closed = false;

  private constructor(private readonly workers: Worker[], private readonly ports: MessagePort[],
    memory: WebAssembly.Memory) {
    this.words = new Int32Array(memory.buffer);
    finalizer.register(this, workers, this);
  }

  /** Starts threads − 1 workers and waits until each has instantiated the module. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory,
    layout: MemoryLayout, threads: number): Promise<WorkerPool> {
    const workers: Worker[] = [];
    const ports: MessagePort[] = [];
    const ready: Promise<void>[] = [];
    for (let wid = 1; wid < threads; wid++) {
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { module, memory, threads, wid, control: CONTROL,
        scratch: layout.scratch + wid * layout.frame, spins: STEP_SPINS, port: port2 };
      const worker = new Worker(`(${workerMain.toString()})()`,
        { eval: true, workerData: setup, transferList: [port2] });
      // referenced until ready (the event loop must wait for that message), unref'd after
      ready.push(new Promise<void>((resolve, reject) => {
        port1.once('message', (m: { ready?: boolean; error?: string }) =>
          (m.ready ? resolve() : reject(new InternalError('wasm threads', m.error ?? '?'))));
        worker.once('error', reject);
        worker.once('exit', (code) => reject(new InternalError('wasm threads',
          `worker ${wid} exited (code ${code}) before it was ready`)));
      }).finally(() => {
        worker.unref();
        port1.unref();
      }));
      workers.push(worker);
      ports.push(port1);
    }
    const pool = new WorkerPool(workers, ports, memory);
    try {
      await Promise.all(ready);
    } catch (e) {
      pool.close();
      throw e;
    }
    return pool;
  }

  /** Runs one step on every thread; `forward` is thread 0's part. */
  run(n: number, pos: number, tokens: number, logits: number, forward: () => void): void {
    if (this.closed) throw new InternalError('wasm threads', 'the worker pool is closed');
    const args = CONTROL.args >> 2;
    this.words.set([n, pos, tokens, logits], args);
    Atomics.add(this.words, CONTROL.step >> 2, 1);
    Atomics.notify(this.words, CONTROL.step >> 2);
    try {
      forward();
    } catch (e) {
      // tell the workers too, then report whoever failed first
      Atomics.store(this.words, CONTROL.abort >> 2, 1);
      Atomics.notify(this.words, CONTROL.generation >> 2);
      const reports = this.ports.map((p) => receiveMessageOnPort(p)?.message as
        { error?: string } | undefined).filter((m) => m?.error);
      this.close();
      throw new InternalError('wasm threads', reports[0]?.error ?? (e as Error).message);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    finalizer.unregister(this);
    for (const w of this.workers) void w.terminate();
  }
}
