// What `smelt bench` measures and writes: the JSON report (`--json`), which the terminal
// table, the Markdown (`--md`) and the charts (`--svg`) are all rendered from.

/** A figure over the repeats: median, and the smallest and largest sample. */
export interface Stat {
  median: number;
  min: number;
  max: number;
}

/** Where a combination's greedy ids first differ from the reference combination's. */
export interface Mismatch {
  /** Index into the ids of the run: 0 is the token chosen from the prompt's logits. */
  step: number;
  expected: number;
  got: number;
}

export interface Agreement {
  /** null for a peer engine, whose ids smelt cannot see. */
  agrees: boolean | null;
  /** The combination whose ids are the reference (`backend/layout/threads`). */
  reference: string;
  mismatch?: Mismatch;
}

/** One kernel's share of a phase, from an instrumented build. */
export interface KernelRow {
  phase: 'prefill' | 'decode';
  kernel: string;
  doc: string;
  calls: number;
  seconds: number;
  /** Of the phase's time in kernels. */
  share: number;
  flops: number;
  bytes: number;
  gbps: number;
  gflops: number;
  /** FLOPs per byte: the roofline's x axis. */
  intensity: number;
}

export interface Row {
  /** `c`, `wasm`, `ref`, or a peer engine's name. */
  backend: string;
  layout: string;
  threads: number;
  peer: boolean;
  /** Spec → ready executable (weights in place), with an empty cache and with a warm one. */
  compile: { coldSeconds: number; warmSeconds: number } | null;
  prefill: {
    tokensPerSecond: Stat;
    gflops: number;
    /** Of the f32 FMA peak for this thread count. */
    fractionOfPeak: number;
  };
  decode: {
    tokensPerSecond: Stat;
    /** Weight bytes read per decoded token × tokens/s. */
    gbps: number;
    gflops: number;
    /** Of the read bandwidth for this thread count. */
    fractionOfBandwidth: number;
  };
  memory: {
    /** The module's own weights, KV cache and arena (wasm: its whole linear memory). */
    moduleBytes: number | null;
    /** Largest resident set of the whole process seen after a round of this row. */
    rssBytes: number | null;
  };
  agreement: Agreement;
  kernels?: KernelRow[];
}

export interface Ceiling {
  threads: number;
  readGBps: number;
  gflops: number;
}

export interface BenchReport {
  spec: string;
  weights: string;
  prompt: number;
  gen: number;
  repeat: number;
  machine: {
    cpu: string;
    cores: number;
    /** 1-minute load average when the run started: the machine may be shared. */
    load: number;
    ceilings: Ceiling[];
    probedAt: string;
  };
  /** Work per step from the cost model: what the roofline figures divide by. */
  work: {
    prefillFlops: number;
    /** Weight bytes the prefill reads: every weight once per chunk of the prompt. */
    prefillWeightBytes: number;
    decodeFlopsPerToken: number;
    decodeWeightBytesPerToken: number;
  };
  /** True when every smelt row produced the same greedy ids as the reference row. */
  agree: boolean;
  rows: Row[];
  createdAt: string;
}
