// `smelt perplexity`: how well a model predicts a text, and with `--against REF` how far its
// next-token distributions are from a reference model's (mean KL(ref ‖ test) per token,
// top-1 agreement, both perplexities) on the same tokens.
//
// The text is tokenized once (BOS + the whole text) and scored in windows of `--ctx`
// positions that overlap by ctx − stride (src/runtime/quality/windows.ts); logits are
// reduced chunk by chunk, never held for the whole text. Results go to stdout (text, or
// `--json`); a progress bar (on a terminal) and the timing line go to stderr.

import { availableParallelism } from 'node:os';
import { SingleBar } from 'cli-progress';
import type { Executable } from '../../backends/index.js';
import { backendNamed } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { targetNamed } from '../../ir/target.js';
import type { LoadedModel } from '../runtime/load.js';
import { compileInput } from '../runtime/load.js';
import type { QualityResult } from '../runtime/quality/evaluate.js';
import { evaluate } from '../runtime/quality/evaluate.js';
import { readText, textTokens } from '../runtime/quality/text.js';
import { defaultStride, windows } from '../runtime/quality/windows.js';
import type { ModelFlags, QuantFlags } from './setup.js';
import { loadFromFlags, quantOptions, tokenizerFor } from './setup.js';

export interface PerplexityFlags extends ModelFlags, QuantFlags {
  text: string;
  against?: string;
  backend: string;
  threads: number;
  target: string;
  fuse: boolean;
  ctx?: number;
  stride?: number;
  json?: boolean;
}

export async function perplexityCommand(specPath: string, flags: PerplexityFlags) {
  // models, tokens and windows: every user mistake is caught before anything compiles
  const backend = backendNamed(flags.backend);
  checkThreads(backend.name, flags.threads);
  const test = loadFromFlags(specPath, flags);
  const tokenizer = tokenizerFor(test, flags);
  if (!tokenizer) {
    throw new SmeltError('TOK402', 'perplexity needs a tokenizer: pass --tokenizer FILE ' +
      '(llama2.c tokenizer .bin), or use GGUF weights that embed a vocabulary');
  }
  const reference = flags.against === undefined ? undefined
    : loadFromFlags(specPath, { ...flags, weights: flags.against, randomWeights: undefined });
  const text = readText(flags.text);
  const tokens = textTokens(text, tokenizer, flags.text);
  if (reference) checkComparable(test, reference, flags, text, tokens);
  const { ctx, stride } = contextFlags(flags, [test, reference]);
  const plan = windows(tokens.length, ctx, stride);

  // compile, then score with a progress bar
  // --quant (or the spec's quant:) applies to the model under test; the reference runs as
  // its weights load (f32, or dequantized from a quantized file)
  const options = { threads: flags.threads, target: targetNamed(flags.target), fuse: flags.fuse };
  const testExe = await backend.compile(compileInput(test),
    { ...options, ...quantOptions(test.model, flags) });
  const refExe = reference && await backend.compile(compileInput(reference), options);
  const started = performance.now();
  const result = scoreWithProgress(tokens, plan, testExe, refExe);
  const seconds = (performance.now() - started) / 1000;

  const report = { text: flags.text, tokens: tokens.length, ctx, stride, windows: plan.length,
    backend: backend.name, weights: weightsName(flags), against: flags.against, seconds,
    ...result };
  process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n'
    : formatReport(report));
  const models = refExe ? 2 : 1;
  const rate = seconds > 0 ? `${(result.fed * models / seconds).toFixed(0)} tok/s` : '—';
  process.stderr.write(`${backend.name}: ${result.fed} positions fed ` +
    `${models > 1 ? 'to each model ' : ''}in ${seconds.toFixed(2)} s (${rate}` +
    `${models > 1 ? ' in all' : ''})\n`);
}

function weightsName(flags: PerplexityFlags): string {
  return flags.weights ?? `random weights (seed ${flags.randomWeights})`;
}

function checkThreads(backend: string, threads: number): void {
  if (threads > 1024) throw new SmeltError('CLI501', `--threads ${threads}: at most 1024`);
  if (threads > 1 && backend === 'ref') {
    process.stderr.write('note: the ref backend runs on one thread; --threads is ignored\n');
  }
  if (threads > availableParallelism()) {
    process.stderr.write(`note: ${threads} threads on ${availableParallelism()} cores will be ` +
      'slower than one thread per core\n');
  }
}

/** EVAL803 unless both models read the same token ids and predict over the same vocabulary. */
function checkComparable(test: LoadedModel, reference: LoadedModel, flags: PerplexityFlags,
  text: string, tokens: Int32Array): void {
  const vocab = (m: LoadedModel) => Number(m.model.env.get('vocab_size'));
  if (vocab(test) !== vocab(reference)) {
    throw new SmeltError('EVAL803', `${weightsName(flags)} has a vocabulary of ${vocab(test)} ` +
      `tokens, ${flags.against} has ${vocab(reference)}: KL divergence needs the same vocabulary`);
  }
  // a reference that brings its own tokenizer must read the text as the same ids
  const own = flags.tokenizer === undefined ? tokenizerFor(reference, {}) : undefined;
  if (!own) return;
  const theirs = own.encode(text);
  const at = tokens.findIndex((id, i) => theirs[i] !== id);
  if (at >= 0 || theirs.length !== tokens.length) {
    const where = at >= 0 ? at : Math.min(tokens.length, theirs.length);
    throw new SmeltError('EVAL803', `${weightsName(flags)} and ${flags.against} tokenize ` +
      `${flags.text} differently: token ${where} is ${tokens[where] ?? 'past the end'} in the ` +
      `first, ${theirs[where] ?? 'past the end'} in the second`);
  }
}

/** --ctx (default: the whole context of the smaller model) and --stride (default ctx / 2). */
function contextFlags(flags: PerplexityFlags, models: (LoadedModel | undefined)[]) {
  let limit = Infinity;
  let limitedBy = '';
  for (const [i, m] of models.entries()) {
    const held = m && Math.min(...m.model.states.map((s) => s.shape[0]!));
    if (held === undefined || held >= limit) continue;
    limit = held;
    limitedBy = i === 0 ? weightsName(flags) : flags.against!;
  }
  const ctx = flags.ctx ?? limit;
  if (ctx > limit) {
    throw new SmeltError('CLI501', `--ctx ${ctx}: the KV cache of ${limitedBy} holds ${limit} ` +
      'positions (raise it with --param seq_len=N)');
  }
  const stride = flags.stride ?? defaultStride(ctx);
  if (stride > ctx) {
    throw new SmeltError('CLI501', `--stride ${stride}: at most the context of ${ctx} tokens ` +
      '(windows must not skip tokens)');
  }
  return { ctx, stride };
}

/** Runs `evaluate` with a progress bar on a terminal: tokens scored and the running ppl. */
function scoreWithProgress(tokens: Int32Array, plan: ReturnType<typeof windows>,
  test: Executable, reference: Executable | undefined): QualityResult {
  if (!process.stderr.isTTY) return evaluate(tokens, plan, test, reference);
  const bar = new SingleBar({
    stream: process.stderr,
    format: 'perplexity {bar} {value}/{total} tokens | ppl {ppl} | eta {eta_formatted}',
    hideCursor: true,
    clearOnComplete: true,
  });
  bar.start(tokens.length - 1, 0, { ppl: '—' });
  try {
    return evaluate(tokens, plan, test, reference, {
      onProgress: (scored, nll) => bar.update(scored, { ppl: Math.exp(nll).toFixed(3) }),
    });
  } finally {
    bar.stop();
  }
}

interface Report extends QualityResult {
  text: string;
  tokens: number;
  ctx: number;
  stride: number;
  windows: number;
  weights: string;
  against?: string;
}

/** The human-readable report: one figure per line, each with its unit. */
function formatReport(r: Report): string {
  const ppl = (p: QualityResult['test']) =>
    `${p.perplexity.toFixed(4)} (NLL ${p.nll.toFixed(4)} ± ${p.nllStderr.toFixed(4)} nats/token)`;
  const lines = [
    `text: ${r.text}, ${r.tokens} tokens, ${r.scored} predictions in ${r.windows} windows of ` +
      `${r.ctx} (stride ${r.stride})`,
    `perplexity: ${ppl(r.test)}  ${r.weights}`,
  ];
  if (r.reference && r.comparison) {
    const c = r.comparison;
    const g = (x: number) => x.toPrecision(4);
    lines.push(
      `reference perplexity: ${ppl(r.reference)}  ${r.against}`,
      `KL(ref || test): mean ${g(c.klMean)} ± ${g(c.klStderr)}, median ${g(c.klMedian)}, ` +
        `p99 ${g(c.klP99)}, max ${g(c.klMax)} nats/token`,
      `top-1 agreement: ${(100 * c.top1 / r.scored).toFixed(2)}% (${c.top1} / ${r.scored})`,
    );
  }
  return lines.join('\n') + '\n';
}
