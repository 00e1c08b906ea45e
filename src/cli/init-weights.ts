// `smelt init-weights`: writes seeded random weights for a spec as a GGUF or safetensors
// file (by the extension of -o), named as the spec's format maps say; see
// src/runtime/init-weights.ts. Written to a temporary name and renamed, like `quantize`.
import { extname } from 'node:path';
import { SmeltError } from '../../ir/diagnostics.js';
import { loadSpec } from '../frontend/index.js';
import type { CheckpointFormat } from '../runtime/init-weights.js';
import { initWeights } from '../runtime/init-weights.js';
import { loadLlama2cVocab } from '../runtime/tokenizer/index.js';
import { formatBytes } from './format.js';
import { checkOutput, writeOutput } from './quantize.js';
import { overrides } from './setup.js';

export interface InitWeightsFlags {
  seed: number;
  out: string;
  tokenizer?: string;
  param?: string[];
}

const FORMATS: Record<string, CheckpointFormat> =
  { '.gguf': 'gguf', '.safetensors': 'safetensors' };

export function initWeightsCommand(specPath: string, flags: InitWeightsFlags): void {
  const format = FORMATS[extname(flags.out).toLowerCase()];
  if (!format) {
    throw new SmeltError('CLI501', `-o ${flags.out}: the file name must end in .gguf or ` +
      '.safetensors (the format to write)');
  }
  if (flags.tokenizer !== undefined && format !== 'gguf') {
    throw new SmeltError('CLI501', '--tokenizer embeds a vocabulary in a GGUF; a safetensors ' +
      'file holds only tensors');
  }
  checkOutput(flags.out);
  const spec = loadSpec(specPath);
  if (flags.param?.length) spec.overrides = overrides(spec, flags.param);
  const vocab = flags.tokenizer === undefined ? undefined
    : loadLlama2cVocab(flags.tokenizer, vocabSize(spec));
  const { bytes, tensors } = initWeights(spec, flags.seed, format, vocab);
  writeOutput(flags.out, bytes);
  process.stderr.write(`wrote ${flags.out}: ${tensors} tensors (f32, seed ${flags.seed}), ` +
    `${formatBytes(bytes.length)}\n`);
}

/** The vocabulary size the spec's numbers give (for reading a llama2.c tokenizer). */
function vocabSize(spec: ReturnType<typeof loadSpec>): number {
  const given = spec.overrides?.get('vocab_size') ?? spec.model?.params.get('vocab_size');
  return Number(given?.value ?? 0);
}
