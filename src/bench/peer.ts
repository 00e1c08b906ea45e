// Peer engines on the same work: `--peer llama-bench=PATH` runs llama.cpp's llama-bench
// with the same GGUF weights, thread counts, prompt and generation lengths and repeats
// (`-m FILE -t 1,2 -p P -n N -r R -o json`) and turns its JSON records into report rows.
//
// llama-bench prints one record per test: prompt processing (n_prompt > 0, n_gen = 0) and
// text generation (n_gen > 0, n_prompt = 0), each with avg_ts and samples_ts (tokens/s).

import { spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { SmeltError } from '../../ir/diagnostics.js';
import { stat } from './measure.js';
import type { MachineCeilings } from './probe.js';
import type { BenchReport, Row, Stat } from './types.js';

export const PEER_KINDS = ['llama-bench'] as const;

export interface Peer {
  kind: (typeof PEER_KINDS)[number];
  path: string;
}

/** `llama-bench=PATH` → a peer; CLI501 for anything else. */
export function parsePeer(text: string): Peer {
  const at = text.indexOf('=');
  const kind = text.slice(0, at);
  const path = text.slice(at + 1);
  if (at < 0 || path === '' || !(PEER_KINDS as readonly string[]).includes(kind)) {
    throw new SmeltError('CLI501', `--peer ${text}: expected KIND=PATH with KIND one of ` +
      `${PEER_KINDS.join(', ')}, e.g. --peer llama-bench=/usr/local/bin/llama-bench`);
  }
  return { kind: kind as Peer['kind'], path };
}

/** One llama-bench JSON record, the fields smelt reads. */
interface Record {
  model_type?: string;
  n_threads: number;
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
  samples_ts?: number[];
}

function isGguf(path: string): boolean {
  const magic = Buffer.alloc(4);
  try {
    const fd = openSync(path, 'r');
    try {
      readSync(fd, magic, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  return magic.toString('latin1') === 'GGUF';
}

export interface PeerRun {
  weights?: string;
  threads: readonly number[];
  prompt: number;
  gen: number;
  repeat: number;
  work: BenchReport['work'];
  ceilings: MachineCeilings;
}

/** Runs the peer binary and parses its records; CLI504 says what went wrong. */
function runLlamaBench(peer: Peer, weights: string, run: PeerRun): Record[] {
  const args = ['-m', weights, '-t', run.threads.join(','), '-p', String(run.prompt), '-n',
    String(run.gen), '-r', String(run.repeat), '-o', 'json'];
  const r = spawnSync(peer.path, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const failed = (why: string) => new SmeltError('CLI504',
    `${peer.kind} at ${peer.path} ${why}`);
  if (r.error) {
    throw failed(`could not be run (${(r.error as NodeJS.ErrnoException).code ?? r.error})`);
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    throw failed(`exited with code ${r.status}${last ? `: ${last}` : ''}`);
  }
  let records: unknown;
  try {
    records = JSON.parse(r.stdout);
  } catch {
    throw failed('printed no JSON (expected the output of -o json)');
  }
  const ok = (x: unknown): x is Record => typeof x === 'object' && x !== null &&
    ['n_threads', 'n_prompt', 'n_gen', 'avg_ts'].every((f) => typeof (x as never)[f] === 'number');
  if (!Array.isArray(records) || !records.every(ok)) {
    throw failed('printed JSON without the records of -o json (n_threads, n_prompt, n_gen, ' +
      'avg_ts)');
  }
  return records;
}

function rates(record: Record | undefined): Stat {
  if (!record) return { median: NaN, min: NaN, max: NaN };
  return record.samples_ts?.length ? stat(record.samples_ts)
    : { median: record.avg_ts, min: record.avg_ts, max: record.avg_ts };
}

/** The quantization in llama.cpp's model description (`llama 135M all F32` → f32). */
function layoutOf(record: Record | undefined): string {
  const m = /\b(F32|F16|BF16|Q\d_[0-9A-Z_]+)\b/i.exec(record?.model_type ?? '');
  return m ? m[1]!.toLowerCase() : 'gguf';
}

/** Before anything is measured: the weights are GGUF and the peer is an executable file. */
export function checkPeer(peer: Peer, weights: string | undefined): void {
  if (weights === undefined || !isGguf(weights)) {
    throw new SmeltError('CLI505', `--peer ${peer.kind} runs on the same weights, which must ` +
      `be a GGUF file; got ${weights ?? 'random weights (--random-weights)'}`);
  }
  try {
    accessSync(peer.path, constants.X_OK);
    if (!statSync(peer.path).isFile()) throw new Error('not a file');
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new SmeltError('CLI504', `${peer.kind} at ${peer.path} cannot be run (${reason}): ` +
      'pass the path of a llama-bench binary built from llama.cpp');
  }
}

/** The peer's rows, one per thread count, with the same roofline figures as smelt's rows. */
export function peerRows(peer: Peer, run: PeerRun): Row[] {
  checkPeer(peer, run.weights);
  const records = runLlamaBench(peer, run.weights!, run);
  return run.threads.map((threads): Row => {
    const mine = records.filter((r) => r.n_threads === threads);
    const pp = mine.find((r) => r.n_prompt > 0 && r.n_gen === 0);
    const tg = mine.find((r) => r.n_gen > 0 && r.n_prompt === 0);
    const p = rates(pp);
    const d = rates(tg);
    const prefillFlops = run.work.prefillFlops / run.prompt * p.median;
    const decodeBytes = run.work.decodeWeightBytesPerToken * d.median;
    return {
      backend: peer.kind, layout: layoutOf(pp ?? tg), threads, peer: true, compile: null,
      prefill: { tokensPerSecond: p, gflops: prefillFlops / 1e9,
        fractionOfPeak: prefillFlops / run.ceilings.flopsPerSecond[threads]! },
      decode: { tokensPerSecond: d, gbps: decodeBytes / 1e9,
        gflops: run.work.decodeFlopsPerToken * d.median / 1e9,
        fractionOfBandwidth: decodeBytes / run.ceilings.readBytesPerSecond[threads]! },
      memory: { moduleBytes: null, rssBytes: null },
      agreement: { agrees: null, reference: 'not comparable: a peer engine\'s ids are not seen' },
    };
  });
}
