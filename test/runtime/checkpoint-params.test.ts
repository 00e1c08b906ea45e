// `--param` against the real stories260K checkpoints: a number the weights are stored for
// must agree with the file (WEIGHT307), a file with more layers than the spec's numbers is
// refused, and numbers that fix no stored shape (seq_len) may still be overridden.
import { describe, expect, test } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SmeltError } from '../../ir/diagnostics.js';
import { overrides } from '../../src/cli/setup.js';
import { loadSpec } from '../../src/frontend/index.js';
import { loadModel } from '../../src/runtime/load.js';
import { modelPath } from '../models.js';

const BIN = () => modelPath('stories260K/stories260K.bin');
const GGUF = () => modelPath('stories260K/stories260K-f32.gguf');

/** Loads `weights` through `specPath` with `--param` pairs; returns the model or the error. */
function load(specPath: string, weights: string, params: string[] = []) {
  const spec = loadSpec(specPath);
  if (params.length) spec.overrides = overrides(spec, params);
  return loadModel(spec, { path: weights });
}

function failure(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(SmeltError);
    return (err as SmeltError).format();
  }
  throw new Error('no error thrown');
}

describe('--param against a checkpoint', () => {
  test.each(['dim=32', 'hidden_dim=100', 'n_layers=3', 'n_kv_heads=2', 'n_heads=4'])(
    'llama2.c .bin: --param %s contradicts its header', (param) => {
      const [name, value] = param.split('=');
      expect(failure(() => load('specs/stories260k.yaml', BIN(), [param]))).toMatch(
        new RegExp(`^error WEIGHT307: .*stories260K\\.bin has ${name} = \\d+, but --param ` +
          `sets ${name} = ${value}; the weights are stored for ${name} = \\d+$`));
    });

  test('GGUF: --param n_layers=3 contradicts block_count', () => {
    expect(failure(() => load('specs/llama.yaml', GGUF(), ['n_layers=3']))).toBe(
      `error WEIGHT307: GGUF metadata of ${GGUF()} has n_layers = 5, but --param sets ` +
      'n_layers = 3; the weights are stored for n_layers = 5');
  });

  test('a GGUF holding layers past the model file\'s n_layers is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelt-layers-'));
    const spec = join(dir, 'three.yaml');
    writeFileSync(spec, readFileSync('specs/stories260k.yaml', 'utf8')
      .replace('architecture: llama.yaml', `architecture: ${resolve('specs/llama.yaml')}`)
      .replace('n_layers: 5', 'n_layers: 3'));
    expect(failure(() => load(spec, GGUF()))).toBe(
      `error WEIGHT307: ${GGUF()} holds tensor blk.3.attn_norm.weight, of layer 3, but the ` +
      'spec\'s numbers give 3 layers (0 to 2); set the layer count the file has (it would run ' +
      'only part of it)');
  });

  test('seq_len (the KV-cache length) may differ: same weights, a shorter cache', () => {
    for (const weights of [BIN(), GGUF()]) {
      const plain = load('specs/stories260k.yaml', weights);
      const short = load('specs/stories260k.yaml', weights, ['seq_len=256']);
      expect(short.model.states[0]!.shape).toEqual([256, 32]);
      expect([...short.weights.keys()]).toEqual([...plain.weights.keys()]);
      for (const [name, data] of plain.weights) expect(short.weights.get(name)).toEqual(data);
    }
  });
});
