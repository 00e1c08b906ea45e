// `smelt quantize`: reads weights through a spec and writes them as a GGUF v3 file stored as
// q8_0, q4_0, f16, bf16 or f32 (see src/runtime/quantize.ts for the per-tensor rules).
//
// On a terminal a progress line counts the tensors as they are encoded. Then it prints one
// `note:` line per tensor that falls back to another dtype (with why), one per
// departure from llama-quantize, then a summary with the tensor count per dtype and the file
// size. The file is written to a temporary name and renamed, so a failed write leaves no
// half-written GGUF; an unwritable path is CLI502.
import type { Stats } from 'node:fs';
import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { SmeltError } from '../../ir/diagnostics.js';
import type { StoredDType } from '../../ir/quant.js';
import { loadSpec } from '../frontend/index.js';
import type { LoadedModel } from '../runtime/load.js';
import { quantizeModel } from '../runtime/quantize.js';
import type { Vocab } from '../runtime/tokenizer/index.js';
import { loadLlama2cVocab } from '../runtime/tokenizer/index.js';
import { formatBytes } from './format.js';
import type { ModelFlags } from './setup.js';
import { loadFromFlags } from './setup.js';

/** The dtypes `--quant` takes, in the order help lists them. */
export const QUANT_CHOICES: StoredDType[] = ['q8_0', 'q4_0', 'f16', 'bf16', 'f32'];

export interface QuantizeFlags extends ModelFlags {
  quant: StoredDType;
  out: string;
}

export async function quantizeCommand(specPath: string, flags: QuantizeFlags): Promise<void> {
  const started = performance.now();
  if (!flags.out.toLowerCase().endsWith('.gguf')) {
    throw new SmeltError('CLI501', `-o ${flags.out}: quantize writes GGUF; the file name must ` +
      'end in .gguf');
  }
  checkOutput(flags.out);
  const spec = loadSpec(specPath); // for its GGUF map; loadFromFlags reads it again (cheap)
  const loaded = loadFromFlags(specPath, flags);
  const vocab = vocabFor(loaded, flags);
  const result = quantizeModel(spec, loaded, flags.quant, vocab, progress(flags.quant));

  // what differs from the plain rule, one line each
  for (const t of result.tensors) {
    const shape = `[${t.shape.join(', ')}]`;
    if (t.fallback) say(`note: ${t.name} ${shape} stored as ${t.dtype}: ${t.fallback}`);
    if (t.note) say(`note: ${t.note}`);
  }
  const keys = new Set(result.metadata.map((kv) => kv.key));
  for (const [param, src] of spec.arch.formats.gguf?.params ?? []) {
    if (src.kind === 'length' && !keys.has(src.key)) {
      say(`note: ${flags.out} has no ${src.key}, so ${param} must come from a model file when ` +
        'it is loaded; pass --tokenizer FILE to embed the vocabulary');
    }
  }

  writeOutput(flags.out, result.bytes);
  const counts = new Map<string, number>();
  for (const t of result.tensors) counts.set(t.dtype, (counts.get(t.dtype) ?? 0) + 1);
  const mix = [...counts].map(([dtype, n]) => `${dtype} ×${n}`).join(', ');
  const ms = performance.now() - started;
  say(`wrote ${flags.out}: ${result.tensors.length} tensors (${mix}), ` +
    `${formatBytes(result.bytes.length)} in ${(ms / 1000).toFixed(2)} s`);
}

/** On a terminal, a `quantizing to q4_0: 120/273 tensors` line rewritten in place. */
function progress(dtype: StoredDType): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    process.stderr.write(`\rquantizing to ${dtype}: ${done}/${total} tensors`);
    if (done === total) process.stderr.write('\r\x1b[K');
  };
}

function say(line: string): void {
  process.stderr.write(line + '\n');
}

/** The vocabulary of --tokenizer, which replaces a GGUF input's own; none without it. */
function vocabFor(loaded: LoadedModel, flags: QuantizeFlags): Vocab | undefined {
  if (flags.tokenizer === undefined) return undefined;
  if (flags.tokenizer.endsWith('.gguf')) {
    throw new SmeltError('CLI501', `--tokenizer takes a llama2.c tokenizer .bin; ` +
      `${flags.tokenizer} is a GGUF — pass it as --weights and its vocabulary is copied`);
  }
  return loadLlama2cVocab(flags.tokenizer, Number(loaded.model.env.get('vocab_size') ?? 0));
}

/** The output is written beside `path` and renamed over it: never over a device or folder. */
export function checkOutput(path: string): void {
  let existing: Stats | undefined;
  try {
    existing = statSync(path);
  } catch {
    existing = undefined; // nothing there yet (or an unreachable folder: the write says so)
  }
  if (existing && !existing.isFile()) {
    throw new SmeltError('CLI502', `cannot write ${path}: it exists and is not a regular file`);
  }
}

export function writeOutput(path: string, bytes: Uint8Array): void {
  checkOutput(path);
  const partial = `${path}.partial-${process.pid}`;
  try {
    writeFileSync(partial, bytes);
    renameSync(partial, path);
  } catch (err) {
    removeQuietly(partial);
    // "EACCES: permission denied, open 'x.partial-1'" → "EACCES: permission denied"
    const reason = (err as Error).message.replace(/, \w+ '.*$/, '');
    throw new SmeltError('CLI502', `cannot write ${path}: ${reason}`);
  }
}

/** Removes a leftover partial file; one that was never created is fine too. */
function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // nothing was written there (for example a path through a file)
  }
}
