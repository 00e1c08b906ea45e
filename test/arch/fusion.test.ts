// The fusion passes over the family specs: they keep working (the fused graph verifies and
// computes what the unfused one does, checked end to end in families.test.ts), and the
// report names each candidate the new primitives leave unfused, with the reason.
import { expect, test } from '@jest/globals';
import { runGraphPasses } from '../../passes/pipeline.js';
import { FusionReport } from '../../passes/report.js';
import { loadSpec, specGraph } from '../../src/frontend/index.js';

function declined(spec: string): string[] {
  const report = new FusionReport();
  runGraphPasses(specGraph(loadSpec(spec)).graph, { report });
  return report.decisions.filter((d) => !d.fused).map((d) => `${d.pass}: ${d.detail}`);
}

const count = (lines: string[], text: string) => lines.filter((l) => l.includes(text)).length;

// (the bias epilogues these families take are counted in test/passes/fusion.test.ts)
test('GPT-2: only the layernorms before matmuls are declined, each reported', () => {
  const lines = declined('specs/tiny/gpt2-tiny.yaml');
  expect(count(lines, 'fuse-norm: layernorm has no matmul prologue yet')).toBe(2 * 2 + 1);
  expect(lines).toHaveLength(2 * 2 + 1);
});

test('Qwen2: only the final norm (tied embedding) is declined', () => {
  const lines = declined('specs/tiny/qwen2-tiny.yaml');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^fuse-norm: weight token_embedding has readers other than matmuls/);
});

test('Gemma: (1 + weight) norms and the GeGLU gate are reported', () => {
  const lines = declined('specs/tiny/gemma-tiny.yaml');
  expect(count(lines, 'fuse-norm: its gain is (1 + weight)')).toBe(2 * 2 + 1);
  expect(count(lines, 'fuse-swiglu: the gate is gelu (GeGLU)')).toBe(2);
});

test('Phi-3: the fused gate/up projection, split by slice, is reported', () => {
  const lines = declined('specs/tiny/phi3-tiny.yaml');
  expect(count(lines, 'fuse-swiglu: gate and up are not both normalized matmuls')).toBe(2);
});
