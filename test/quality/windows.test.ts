// The perplexity windows: every prediction scored exactly once, no window longer than the
// context, every scored prediction with at least ctx − stride tokens before it.
import { describe, expect, test } from '@jest/globals';
import { InternalError } from '../../ir/diagnostics.js';
import { defaultStride, windows } from '../../src/runtime/quality/windows.js';

describe('perplexity windows', () => {
  test('a text that fits one window is one window scoring every row', () => {
    expect(windows(10, 16, 8)).toEqual([{ start: 0, end: 9, scoreFrom: 0 }]);
    expect(windows(2, 1, 1)).toEqual([{ start: 0, end: 1, scoreFrom: 0 }]);
  });

  test('a longer text slides by the stride, scoring only the new rows', () => {
    // 20 tokens, 19 predictions (rows 0..18)
    expect(windows(20, 8, 4)).toEqual([
      { start: 0, end: 8, scoreFrom: 0 },
      { start: 4, end: 12, scoreFrom: 8 },
      { start: 8, end: 16, scoreFrom: 12 },
      { start: 11, end: 19, scoreFrom: 16 }, // the last one is cut short: 3 new rows
    ]);
  });

  test('stride = ctx gives disjoint windows', () => {
    expect(windows(17, 8, 8)).toEqual([
      { start: 0, end: 8, scoreFrom: 0 },
      { start: 8, end: 16, scoreFrom: 8 },
    ]);
  });

  test.each([[2, 1, 1], [50, 7, 3], [129, 128, 64], [1000, 128, 64], [1000, 100, 1],
    [1000, 33, 33], [513, 512, 256]])('n %i, ctx %i, stride %i: every row once, with context',
    (n, ctx, stride) => {
      const scored = new Array<number>(n - 1).fill(0);
      for (const w of windows(n, ctx, stride)) {
        expect(w.end - w.start).toBeLessThanOrEqual(ctx);
        expect(w.start).toBeGreaterThanOrEqual(0);
        expect(w.scoreFrom).toBeGreaterThanOrEqual(w.start);
        for (let r = w.scoreFrom; r < w.end; r++) {
          scored[r]!++;
          // tokens seen when row r predicts: start..r
          expect(r - w.start + 1).toBeGreaterThanOrEqual(Math.min(r + 1, ctx - stride + 1));
        }
      }
      expect(scored.every((k) => k === 1)).toBe(true);
    });

  test('the default stride is half the context', () => {
    expect([1, 2, 7, 128, 512].map(defaultStride)).toEqual([1, 1, 3, 64, 256]);
  });

  test('impossible plans are internal errors (the CLI checks its flags first)', () => {
    expect(() => windows(1, 8, 4)).toThrow(InternalError);
    expect(() => windows(10, 8, 9)).toThrow(InternalError);
  });
});
