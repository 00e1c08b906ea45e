// `smelt bench` as a user runs it: stories260K with tiny counts, every output format, a
// peer engine (a stand-in script printing llama-bench's JSON), and the mistakes a user can
// make, each a coded error before anything is measured. Runs the built CLI (dist/).
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { BenchReport } from '../../src/bench/types.js';
import { modelPath } from '../models.js';

function smelt(...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const FAKE_PEER = resolve('test/bench/fake-llama-bench.mjs');
const gguf = () => modelPath('stories260K/stories260K-f32.gguf');

describe('smelt bench on stories260K', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smelt-bench-test-'));
  const out = (name: string) => join(dir, name);
  let run: ReturnType<typeof smelt>;
  let report: BenchReport;

  test('runs c and wasm with a peer, and writes JSON, Markdown and SVG', () => {
    run = smelt('bench', 'specs/stories260k.yaml', '--weights', gguf(), '--backends', 'c,wasm',
      '--threads', '1,2', '--prompt', '8', '--gen', '4', '--repeat', '1', '--per-kernel',
      '--peer', `llama-bench=${FAKE_PEER}`, '--json', out('b.json'), '--md', out('b.md'),
      '--svg', out('b.svg'));
    expect(run.stderr).not.toMatch(/error|Error/);
    expect(run.code).toBe(0);
    report = JSON.parse(readFileSync(out('b.json'), 'utf8')) as BenchReport;
  });

  test('the JSON report has every field, for every combination and the peer', () => {
    expect(report).toMatchObject({ spec: 'specs/stories260k.yaml', prompt: 8, gen: 4, repeat: 1,
      agree: true });
    expect(report.machine.ceilings.map((c) => c.threads)).toEqual([1, 2]);
    for (const c of report.machine.ceilings) {
      expect(c.readGBps).toBeGreaterThan(0);
      expect(c.gflops).toBeGreaterThan(0);
    }
    expect(report.work.prefillFlops).toBeGreaterThan(0);
    expect(report.work.decodeWeightBytesPerToken).toBeGreaterThan(0);
    const names = report.rows.map((r) => `${r.backend}/${r.layout}/${r.threads}`);
    expect(names).toEqual(['c/f32/1', 'c/f32/2', 'wasm/f32/1', 'wasm/f32/2',
      'llama-bench/f32/1', 'llama-bench/f32/2']);
    for (const row of report.rows) {
      for (const phase of ['prefill', 'decode'] as const) {
        const s = row[phase].tokensPerSecond;
        expect(s.min).toBeLessThanOrEqual(s.median);
        expect(s.median).toBeLessThanOrEqual(s.max);
        expect(s.min).toBeGreaterThan(0);
      }
      expect(row.prefill.gflops).toBeGreaterThan(0);
      expect(row.prefill.fractionOfPeak).toBeGreaterThan(0);
      expect(row.decode.gbps).toBeGreaterThan(0);
      expect(row.decode.fractionOfBandwidth).toBeGreaterThan(0);
      if (row.peer) {
        expect(row.agreement.agrees).toBeNull();
        expect(row.compile).toBeNull();
        continue;
      }
      expect(row.agreement).toEqual({ agrees: true, reference: 'c/f32/1T' });
      expect(row.compile!.coldSeconds).toBeGreaterThan(0);
      expect(row.compile!.warmSeconds).toBeGreaterThan(0);
      expect(row.memory.moduleBytes).toBeGreaterThan(1_000_000); // the f32 weights alone
      expect(row.memory.rssBytes).toBeGreaterThan(row.memory.moduleBytes!);
    }
  });

  test('the peer rows are the stand-in\'s figures (median of its samples)', () => {
    const peer = report.rows.filter((r) => r.peer);
    // the stand-in reports samples 1000·t + i for prompt processing, 500·t + i for generation
    expect(peer.map((r) => r.prefill.tokensPerSecond)).toEqual([
      { median: 1000, min: 1000, max: 1000 }, { median: 2000, min: 2000, max: 2000 }]);
    expect(peer.map((r) => r.decode.tokensPerSecond.median)).toEqual([500, 1000]);
  });

  test('per-kernel rows cover the c and wasm rows: shares add up to one in each phase', () => {
    for (const row of report.rows.filter((r) => !r.peer)) {
      for (const phase of ['prefill', 'decode'] as const) {
        const kernels = row.kernels!.filter((k) => k.phase === phase);
        expect(kernels.some((k) => k.kernel.startsWith('attention'))).toBe(true);
        expect(kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
        for (const k of kernels) {
          expect(k.seconds).toBeGreaterThan(0);
          expect(k.calls).toBeGreaterThan(0);
        }
      }
      // decode runs 4 steps of every layer's calls: 5 layers of attention
      expect(row.kernels!.filter((k) => k.phase === 'decode' && k.kernel.startsWith('attention'))
        .reduce((n, k) => n + k.calls, 0)).toBe(5 * 4);
    }
  });

  test('the terminal table and the Markdown say the backends agree', () => {
    expect(run.stdout).toMatch(/^backends agree: greedy ids equal over 8 prompt \+ 4 generated/m);
    expect(run.stdout).toMatch(/^c\s+f32\s+1\s+.*reference$/m);
    expect(run.stdout).toMatch(/^llama-bench\s+f32\s+2\s+.*not checked$/m);
    expect(run.stdout).toMatch(/^per kernel, c\/f32\/1T/m);
    const md = readFileSync(out('b.md'), 'utf8');
    expect(md).toMatch(/^\| backend \| layout \| threads \|/m);
    expect(md).toMatch(/^\| wasm \| f32 \| 2 \| .* \| agree \|$/m);
    expect(md).toMatch(/^## Per kernel: c\/f32\/2T$/m);
  });

  test('the SVG is well-formed XML with both charts', () => {
    const svg = readFileSync(out('b.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({ ignoreAttributes: false }).parse(svg);
    expect(doc.svg['@_xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(svg).toContain('tokens/s by backend × layout × threads');
    expect(svg).toContain('roofline: per-kernel points');
  });
});

describe('smelt bench: user mistakes are coded errors before anything runs', () => {
  const random = ['bench', 'specs/stories260k.yaml', '--random-weights', '1'];
  test.each([
    ['an unknown layout', [...random, '--quant', 'q3_k'],
      'error CLI501: --quant q3_k: unknown layout (known: f32, f16, q8_0, q4_0, mixed)\n'],
    ['a bad thread list', [...random, '--threads', '1,x'],
      'error CLI501: --threads 1,x: expected a list of whole numbers from 1 to 1024, e.g. 1,2\n'],
    ['an unknown backend', [...random, '--backends', 'c,gpu'],
      'error RUN602: unknown backend `gpu` (available: ref, c, wasm)\n'],
    ['a peer on random weights', [...random, '--peer', `llama-bench=${FAKE_PEER}`],
      'error CLI505: --peer llama-bench runs on the same weights, which must be a GGUF file; ' +
      'got random weights (--random-weights)\n'],
    ['an unknown peer kind', [...random, '--peer', 'ollama=/bin/true'],
      'error CLI501: --peer ollama=/bin/true: expected KIND=PATH with KIND one of llama-bench, ' +
      'e.g. --peer llama-bench=/usr/local/bin/llama-bench\n'],
    ['more positions than the context', [...random, '--prompt', '500', '--gen', '64'],
      'error CLI501: --prompt 500 + --gen 64 positions exceed the context of 512 (the spec\'s ' +
      'seq_len)\n'],
  ])('%s', (_, args, message) => {
    const r = smelt(...args);
    expect(r.stderr).toBe(message);
    expect(r.code).toBe(1);
  });

  test('a missing peer binary', () => {
    const r = smelt('bench', 'specs/stories260k.yaml', '--weights', gguf(), '--peer',
      'llama-bench=/nonexistent/llama-bench');
    expect(r.stderr).toBe('error CLI504: llama-bench at /nonexistent/llama-bench cannot be run ' +
      '(ENOENT): pass the path of a llama-bench binary built from llama.cpp\n');
    expect(r.code).toBe(1);
  });

  test('a peer that prints no JSON', () => {
    const r = smelt('bench', 'specs/stories260k.yaml', '--weights', gguf(), '--backends', 'ref',
      '--prompt', '2', '--gen', '1', '--repeat', '1', '--peer', 'llama-bench=/bin/echo');
    // (a fresh machine may first say that it probes the machine)
    expect(r.stderr.split('\n').slice(-2)).toEqual(['error CLI504: llama-bench at /bin/echo ' +
      'printed no JSON (expected the output of -o json)', '']);
    expect(r.code).toBe(1);
  });
});
