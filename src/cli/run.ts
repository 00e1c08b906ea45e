// `smelt run`: generate text from a spec and weights, streaming it as it comes.

import { availableParallelism } from 'node:os';
import { backendNamed } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { targetNamed } from '../../ir/target.js';
import { checkPromptFits, generate } from '../runtime/generate.js';
import { compileInput } from '../runtime/load.js';
import type { ModelFlags, QuantFlags } from './setup.js';
import { loadFromFlags, quantOptions, tokenizerFor } from './setup.js';

export interface RunFlags extends ModelFlags, QuantFlags {
  prompt: string;
  steps: number;
  temperature: number;
  topK: number;
  topP: number;
  seed?: number;
  backend: string;
  threads: number;
  target: string;
  fuse: boolean;
}

/** BOS when no tokenizer says otherwise: the llama/SentencePiece convention. */
const DEFAULT_BOS = 1;

function rate(tokens: number, seconds: number): string {
  return seconds > 0 ? `${(tokens / seconds).toFixed(1)} tok/s` : '—';
}

export async function runCommand(specPath: string, flags: RunFlags): Promise<void> {
  const backend = backendNamed(flags.backend);
  const loaded = loadFromFlags(specPath, flags);
  const tokenizer = tokenizerFor(loaded, flags);
  if (!tokenizer && flags.prompt !== '') {
    throw new SmeltError('TOK402', 'a text prompt needs a tokenizer: pass --tokenizer FILE ' +
      '(llama2.c tokenizer .bin), or use GGUF weights that embed a vocabulary');
  }
  if (flags.threads > 1 && backend.name === 'ref') {
    process.stderr.write('note: the ref backend runs on one thread; --threads is ignored\n');
  }
  if (flags.target !== 'native' && backend.name !== 'c') {
    process.stderr.write(`note: --target chooses the native code; the ${backend.name} backend ` +
      'ignores it\n');
  }
  if (flags.threads > 1024) {
    throw new SmeltError('CLI501', `--threads ${flags.threads}: at most 1024`);
  }
  if (flags.threads > availableParallelism() && backend.name !== 'ref') {
    process.stderr.write(`note: ${flags.threads} threads on ${availableParallelism()} ` +
      'cores will be slower than one thread per core\n');
  }
  const target = targetNamed(flags.target);
  const quant = quantOptions(loaded.model, flags);
  if (backend.name === 'ref' && (quant.quant ?? 'f32') !== 'f32') {
    process.stderr.write(`note: the ref backend interprets f32 weights; the ${quant.quant} ` +
      'layouts apply to --backend c and wasm\n');
  }
  const exe = await backend.compile(compileInput(loaded), { threads: flags.threads, target,
    fuse: flags.fuse, ...quant });

  // the prompt is printed as the model reads it, then every token as it is chosen
  const prompt = tokenizer ? tokenizer.encode(flags.prompt) : [DEFAULT_BOS];
  checkPromptFits(prompt.length, exe.maxContext); // before any of it is printed
  if (flags.steps > exe.maxContext) {
    const positions = `${exe.maxContext} position${exe.maxContext === 1 ? '' : 's'}`;
    process.stderr.write(`note: the context holds ${positions}; generation ` +
      `stops there (--steps ${flags.steps})\n`);
  }
  const utf8 = new TextDecoder('utf-8');
  const emit = (prev: number, token: number) => {
    if (!tokenizer) return void process.stdout.write(`${token} `);
    process.stdout.write(utf8.decode(tokenizer.decodePiece(prev, token), { stream: true }));
  };
  // as run.c: with fewer steps than prompt tokens, only the first steps + 1 are shown
  const shown = Math.min(prompt.length, flags.steps + 1);
  for (let i = 1; i < shown; i++) emit(prompt[i - 1]!, prompt[i]!);
  const result = generate(exe, prompt, {
    steps: flags.steps,
    temperature: flags.temperature,
    topK: flags.topK,
    topP: flags.topP,
    seed: flags.seed ?? Math.max(1, Date.now() % 2 ** 32),
    // without a tokenizer no id is special: run all the steps
    stopTokens: tokenizer ? [tokenizer.bos, tokenizer.eos] : [],
    onToken: (token, prev) => emit(prev, token),
  });
  await new Promise((done) => process.stdout.write(utf8.decode() + '\n', done));

  const generated = result.tokens.length - result.promptTokens;
  const decodeSteps = Math.max(0, generated - 1);
  process.stderr.write(`${backend.name}: prompt ${result.promptTokens} tokens in ` +
    `${(result.prefillSeconds * 1000).toFixed(1)} ms (${rate(result.promptTokens,
      result.prefillSeconds)}), generated ${generated} tokens, decode ` +
    `${rate(decodeSteps, result.decodeSeconds)}\n`);
}
