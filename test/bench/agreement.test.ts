// A backend that computes something else is reported as disagreeing — in the row, the
// summary line, the table and the JSON — and the benchmark still finishes. The wrong
// backend is the reference interpreter with one logit pushed up from the third decode step
// on: an honest stand-in for a kernel bug, injected through the API, not a user flag.
import { describe, expect, test } from '@jest/globals';
import type { Backend } from '../../backends/index.js';
import { refBackend } from '../../backends/ref/interpreter.js';
import { runCombos } from '../../src/bench/measure.js';
import { agreementLine, markdownReport, terminalReport } from '../../src/bench/table.js';
import type { BenchReport } from '../../src/bench/types.js';
import { loadSpec } from '../../src/frontend/index.js';
import { loadModel } from '../../src/runtime/load.js';
import { modelPath } from '../models.js';

const PROMPT = 4;
const WRONG_FROM = PROMPT + 2;
const WRONG_ID = 7;

const skewed: Backend = {
  name: 'skewed',
  description: 'the interpreter with a wrong logit from one position on (test only)',
  async compile(input, options) {
    const exe = await refBackend.compile(input, options);
    return {
      get maxContext() {
        return exe.maxContext;
      },
      reset: () => exe.reset(),
      forward(tokens, pos) {
        const logits = exe.forward(tokens, pos);
        if (pos >= WRONG_FROM) logits[logits.length - 512 + WRONG_ID] = 1e9;
        return logits;
      },
    };
  },
};

describe('a disagreement between backends', () => {
  test('is one: flagged in the row, the summary, the table and the Markdown', async () => {
    const loaded = loadModel(loadSpec('specs/stories260k.yaml'),
      { path: modelPath('stories260K/stories260K.bin') });
    const ceilings = { readBytesPerSecond: { 1: 1e10 }, flopsPerSecond: { 1: 1e11 },
      measuredAt: 'test', fresh: false };
    const { rows } = await runCombos({ loaded, backends: [refBackend, skewed], layouts: ['f32'],
      threads: [1], prompt: PROMPT, gen: 6, repeat: 1, perKernel: false, ceilings });
    expect(rows.map((r) => r.agreement.agrees)).toEqual([true, false]);
    const bad = rows[1]!.agreement;
    // ids[0] comes from the prompt's logits; ids[i] from the step at position PROMPT + i - 1
    expect(bad.mismatch!.step).toBe(WRONG_FROM - PROMPT + 1);
    expect(bad.mismatch!.got).toBe(WRONG_ID);
    expect(bad.mismatch!.expected).not.toBe(WRONG_ID);
    expect(bad.reference).toBe('ref/f32/1T');
    // the skewed row was still measured
    expect(rows[1]!.decode.tokensPerSecond.median).toBeGreaterThan(0);

    const report: BenchReport = { spec: 'specs/stories260k.yaml', weights: 'stories260K.bin',
      prompt: PROMPT, gen: 6, repeat: 1, machine: { cpu: 'test', cores: 1, load: 0,
        ceilings: [{ threads: 1, readGBps: 10, gflops: 100 }], probedAt: 'test' },
      work: { prefillFlops: 1, prefillWeightBytes: 1, decodeFlopsPerToken: 1,
        decodeWeightBytesPerToken: 1 },
      agree: false, rows, createdAt: 'test' };
    const line = `BACKENDS DISAGREE: skewed/f32/1T differs from ref/f32/1T at id 3 (got 7, ` +
      `expected ${bad.mismatch!.expected})`;
    expect(agreementLine(report)).toBe(line);
    expect(terminalReport(report)).toContain(line);
    expect(terminalReport(report)).toMatch(
      new RegExp(`^skewed .* DISAGREE at 3: 7 vs ${bad.mismatch!.expected}$`, 'm'));
    expect(markdownReport(report)).toContain(`| DISAGREE at 3: 7 vs ${bad.mismatch!.expected} |`);
  });
});
