// The C compile step: cache hits, and a failing compile shows the generated line at fault.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileShared } from '../../backends/c/compile.js';
import { SmeltError } from '../../ir/diagnostics.js';

const FLAGS = ['-O1', '-shared', '-fPIC'];

describe('compileShared', () => {
  process.env.SMELT_CACHE_DIR = mkdtempSync(join(tmpdir(), 'smelt-compile-'));

  test('the second compile of the same source is a cache hit', () => {
    const source = `int smelt_answer(void) { return ${Date.now() % 1000}; }\n`;
    const first = compileShared(source, FLAGS, 'probe');
    const second = compileShared(source, FLAGS, 'probe');
    expect(first.cached).toBe(false);
    expect(second).toEqual({ path: first.path, cached: true, seconds: 0 });
  });

  test('a compile error names the compiler message and the generated line', () => {
    const source = 'int ok(void) { return 1; }\nint broken(void) { return undefined_name; }\n';
    let error: unknown;
    try {
      compileShared(source, FLAGS, 'broken');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SmeltError);
    const message = (error as SmeltError).detail;
    expect((error as SmeltError).code).toBe('BACKEND702');
    expect(message).toMatch(/broken\.c:2:\d+: error: .undefined_name/);
    expect(message).toContain('generated line: int broken(void) { return undefined_name; }');
  });
});
