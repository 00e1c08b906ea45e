#!/usr/bin/env node
// The `smelt` command. User mistakes become one located diagnostic on stderr and exit
// code 1; anything else is a bug in smelt and keeps its stack trace.

import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { SmeltError } from '../../ir/diagnostics.js';
import { KNOBS } from '../env.js';
import { benchCommand } from './bench.js';
import { compileCommand } from './compile.js';
import { initWeightsCommand } from './init-weights.js';
import { inspectCommand } from './inspect.js';
import { newArchCommand } from './new-arch.js';
import { collect, int, number } from './options.js';
import { QUANT_POLICIES } from '../../ir/layout.js';
import { perplexityCommand } from './perplexity.js';
import { QUANT_CHOICES, quantizeCommand } from './quantize.js';
import { runCommand } from './run.js';

/** This package's version: its package.json is found upward from this file (src or dist). */
function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8'));
      if (pkg.name === 'smelt') return String(pkg.version);
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}

const program = new Command('smelt')
  .description('compile transformer specs (YAML) into CPU kernels, and run them')
  .version(version(), '-V, --version')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', '\nEnvironment:\n' +
    Object.values(KNOBS).map((k) => `  ${k.name.padEnd(16)} ${k.doc}`).join('\n'));

/** --quant (run, compile, inspect) and --quant-kernels (run, compile). */
function quantOptions(cmd: Command, kernels = true): Command {
  cmd.addOption(new Option('--quant <policy>', 'weight encodings (over the spec\'s `quant:`): ' +
    'f32, f16, q8_0, q4_0, or mixed (q4_0 with V, FFN down and the classifier at q8_0)')
    .choices(QUANT_POLICIES));
  if (kernels) {
    cmd.addOption(new Option('--quant-kernels <how>', 'quantized matmuls: int (int8 dot ' +
      'products) or float (dequantized in registers)').choices(['int', 'float']));
  }
  return cmd;
}

function weightOptions(cmd: Command): Command {
  return cmd
    .option('--weights <file>', 'checkpoint: GGUF, safetensors or llama2.c .bin')
    .option('--random-weights <seed>', 'seeded random weights instead of a checkpoint', int(0))
    .option('--tokenizer <file>', 'llama2.c tokenizer .bin (a GGUF brings its own)')
    .option('--param <name=value>', 'set a spec parameter, over the model file and the ' +
      'checkpoint (repeatable), e.g. --param seq_len=4096', collect);
}

quantOptions(weightOptions(program.command('run')
  .description('generate text, streaming it, and report tokens/s')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .option('--prompt <text>', 'prompt text', '')
  .option('--steps <n>', 'positions to run, prompt included', int(1), 256)
  .option('--temperature <t>', '0 is greedy', number(0), 1)
  .option('--top-k <k>', 'sample among the k most likely tokens (0: off)', int(0), 0)
  .option('--top-p <p>', 'nucleus sampling mass (0 or 1: off, as in run.c)', number(0, 1), 0.9)
  .option('--seed <s>', 'sampler seed, at least 1 (default: the clock)', int(1))
  .addOption(new Option('--backend <name>', 'backend to run on: ref, c, wasm').default('ref'))
  .option('--threads <n>', 'threads (at most 1024)', int(1), 1)
  .option('--target <name>', 'native target: native, avx512, avx2, scalar', 'native')
  .option('--no-fuse', 'skip the fusion passes (every graph op is its own kernel)'))
  .action(runCommand);

quantOptions(weightOptions(program.command('inspect')
  .description('print the bound hyperparameters and the graph IR, or the memory plan')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .option('--memory', 'print weights, KV cache per token and arena sizes')
  .option('--fusion', 'print every kernel after fusion and every fusion declined, with why')
  .option('--print-after-all', 'print the graph IR after every pass')
  .option('--max-tokens <n>', 'tokens per step the arena is planned for', int(1), 128)
  .option('--layouts', 'print every weight\'s layout and encoding, with why')
  .option('--target <name>', 'target whose layouts to plan for', 'native'), false)
  .action(inspectCommand);

weightOptions(program.command('quantize')
  .description('write the weights as a GGUF v3 file, quantized (q8_0, q4_0) or as floats')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .addOption(new Option('--quant <dtype>', 'stored dtype of the 2-D weights')
    .choices(QUANT_CHOICES).makeOptionMandatory())
  .requiredOption('-o, --out <file>', 'the GGUF file to write')
  .action(quantizeCommand);

quantOptions(weightOptions(program.command('perplexity')
  .description('score a text: perplexity, and with --against the KL divergence and top-1 ' +
    'agreement against reference weights')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .requiredOption('--text <file>', 'UTF-8 text to score, tokenized as one document')
  .option('--against <file>', 'reference weights (same spec), run side by side on the same tokens')
  .option('--ctx <n>', 'positions per window (default: the KV-cache length)', int(1))
  .option('--stride <n>', 'new predictions per window after the first (default: ctx / 2)', int(1))
  .option('--json', 'print the figures as JSON')
  .addOption(new Option('--backend <name>', 'backend to run on: ref, c, wasm').default('ref'))
  .option('--threads <n>', 'threads (at most 1024)', int(1), 1)
  .option('--target <name>', 'native target: native, avx512, avx2, scalar', 'native')
  .option('--no-fuse', 'skip the fusion passes (every graph op is its own kernel)'))
  .action(perplexityCommand);
program.command('init-weights')
  .description('write seeded random weights for a spec as a GGUF or safetensors checkpoint')
  .argument('<spec>', 'model spec (YAML)')
  .requiredOption('--seed <s>', 'random seed', int(0))
  .requiredOption('-o, --out <file>', 'FILE.gguf or FILE.safetensors')
  .option('--tokenizer <file>', 'llama2.c tokenizer .bin to embed as the GGUF vocabulary')
  .option('--param <name=value>', 'set a spec parameter over the model file', collect)
  .action(initWeightsCommand);

program.command('new-arch')
  .description('start a new architecture spec as a copy of an existing one')
  .argument('<name>', 'the new family name (lowercase; also its GGUF key prefix)')
  .requiredOption('--from <base>', 'architecture to copy: a name in specs/ (llama) or a .yaml')
  .option('-o, --out <file>', 'where to write it (default NAME.yaml; never overwritten)')
  .action(newArchCommand);

quantOptions(program.command('compile')
  .description('compile a spec to a module: native (C source and .so) or WebAssembly')
  .argument('<spec>', 'model spec (YAML)')
  .option('--backend <name>', 'backend to compile for: c, wasm', 'c')
  .option('-o, --out <dir>', 'folder to write the module into (model.c/.so or model.wasm/.json)')
  .option('--emit-c', 'print the generated C to stdout (c)')
  .option('--emit-wat', 'print the WebAssembly text form to stdout (wasm)')
  .option('--threads <n>', 'wasm: n > 1 builds the shared-memory module for worker threads',
    int(1), 1)
  .option('--target <name>', 'c: native, avx512, avx2, scalar, wasm', 'native'))
  .action(compileCommand);

weightOptions(program.command('bench')
  .description('benchmark backends × layouts × threads: compile time, prefill and decode ' +
    'tokens/s, roofline, memory; checks that the backends agree')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .option('--backends <list>', 'backends to compare, the first is the reference', 'c,wasm')
  .option('--threads <list>', 'thread counts', '1,2')
  .option('--quant <list>', 'weight layouts (f32; q8_0, q4_0, f16, mixed where built)', 'f32')
  .option('--prompt <n>', 'prompt tokens (prefill)', int(1), 128)
  .option('--gen <n>', 'generated tokens (decode)', int(1), 64)
  .option('--repeat <n>', 'timed rounds after the warm-up; figures are their medians', int(1), 5)
  .option('--probe', 're-measure the machine ceilings (bandwidth, FMA peak) instead of the ' +
    'cached ones')
  .option('--per-kernel', 'add a per-kernel breakdown from an instrumented build (c, wasm)')
  .option('--peer <kind=path>', 'also run a peer engine on the same GGUF weights, e.g. ' +
    'llama-bench=/path/to/llama-bench (repeatable)', collect)
  .option('--json <file>', 'write the full report as JSON')
  .option('--md <file>', 'write the tables as Markdown')
  .option('--svg <file>', 'write charts: tokens/s by combination, and the roofline')
  .action(benchCommand);

// `smelt run … | head` closes stdout early: that is the reader's choice, not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(0);
});

try {
  await program.parseAsync();
} catch (e) {
  if (!(e instanceof SmeltError)) throw e;
  process.stderr.write(e.format() + '\n');
  process.exitCode = 1;
}
