// stories260K end to end: every golden greedy run, from every checkpoint form, on every
// backend and thread count, with the top-5 logits of every position within 1e-4; and the
// native backend gives bit-identical logits with 1 and 2 threads.
import { describe, expect, test } from '@jest/globals';
import { backendNamed } from '../../backends/index.js';
import { loadSpec } from '../../src/frontend/index.js';
import { generate } from '../../src/runtime/generate.js';
import { compileInput, loadModel } from '../../src/runtime/load.js';
import { loadLlama2cTokenizer } from '../../src/runtime/tokenizer/index.js';
import { modelPath, readGolden } from '../models.js';

interface Golden {
  prompt: string;
  steps: number;
  prompt_tokens: number[];
  tokens: number[];
  text: string;
  positions?: { pos: number; top5: [number, number][]; logits?: number[] }[];
}

const GOLDENS = [
  'stories260K_greedy_once_upon_a_time.json',
  'stories260K_greedy_empty.json',
  'stories260K_greedy_empty_256.json',
  'stories260K_full_logits_lily_and_ben.json',
];
const CHECKPOINTS = ['stories260K.bin', 'stories260K.v1.bin', 'stories260K-f32.gguf'];
const SPEC = 'specs/stories260k.yaml';

const RUNS = [['ref', 1], ['c', 1], ['c', 2], ['wasm', 1], ['wasm', 2]] as const;
const RUN_CASES = CHECKPOINTS.flatMap((c) => RUNS.map(([b, t]) => [c, b, t] as const));

const TITLE = 'stories260K from %s on %s, %i thread(s)';
describe.each(RUN_CASES)(TITLE, (checkpoint, backend, threads) => {
  const loaded = loadModel(loadSpec(SPEC), { path: modelPath(`stories260K/${checkpoint}`) });
  const tokenizer = loadLlama2cTokenizer(modelPath('stories260K/tok512.bin'), 512);

  test.each(GOLDENS)('%s', async (name) => {
    const golden = readGolden<Golden>(name);
    const exe = await backendNamed(backend).compile(compileInput(loaded), { threads });
    const prompt = tokenizer.encode(golden.prompt);
    expect(prompt).toEqual(golden.prompt_tokens);

    const rows: Float32Array[] = [];
    const result = generate(exe, prompt, {
      steps: golden.steps, temperature: 0, topP: 1, topK: 0, seed: 0,
      stopTokens: [tokenizer.bos], onLogits: (_, logits) => rows.push(logits.slice()),
    });
    expect(result.tokens).toEqual(golden.tokens);
    expect(tokenizer.decode(result.tokens)).toEqual(golden.text);

    let worst = 0;
    for (const position of golden.positions ?? []) {
      const row = rows[position.pos]!;
      for (const [id, logit] of position.top5) worst = Math.max(worst, Math.abs(row[id]! - logit));
      position.logits?.forEach((logit, id) => {
        worst = Math.max(worst, Math.abs(row[id]! - logit));
      });
    }
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('native backend', () => {
  const loaded = loadModel(loadSpec(SPEC), { path: modelPath('stories260K/stories260K.bin') });
  const story = readGolden<Golden>('stories260K_greedy_empty_256.json').tokens;

  test('1 and 2 threads give identical logits over a 256-token prefill and decode', async () => {
    const outputs = [];
    for (const threads of [1, 2]) {
      const exe = await backendNamed('c').compile(compileInput(loaded), { threads });
      const prefill = exe.forward(Int32Array.from(story.slice(0, 200)), 0);
      const decode = exe.forward(Int32Array.of(story[200]!), 200);
      outputs.push([prefill, decode]);
    }
    expect(outputs[1]).toEqual(outputs[0]);
  });

  test('a prompt longer than one native call is fed in chunks and matches ref', async () => {
    const tokens = Int32Array.from(story.slice(0, 200));
    const native = (await backendNamed('c').compile(compileInput(loaded), { threads: 2 }))
      .forward(tokens, 0);
    const ref = (await backendNamed('ref').compile(compileInput(loaded), { threads: 1 }))
      .forward(tokens, 0);
    const worst = native.reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0);
    expect(worst).toBeLessThan(1e-4);
  });
});
