#!/usr/bin/env node
// The `smelt` command. User mistakes become one located diagnostic on stderr and exit
// code 1; anything else is a bug in smelt and keeps its stack trace.

import { Command, Option } from 'commander';
import { SmeltError } from '../../ir/diagnostics.js';
import { KNOBS } from '../env.js';
import { compileCommand } from './compile.js';
import { inspectCommand } from './inspect.js';
import { int, number } from './options.js';
import { runCommand } from './run.js';

const program = new Command('smelt')
  .description('compile transformer specs (YAML) into CPU kernels, and run them')
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', '\nEnvironment:\n' +
    Object.values(KNOBS).map((k) => `  ${k.name.padEnd(16)} ${k.doc}`).join('\n'));

function weightOptions(cmd: Command): Command {
  return cmd
    .option('--weights <file>', 'checkpoint: GGUF, safetensors or llama2.c .bin')
    .option('--random-weights <seed>', 'seeded random weights instead of a checkpoint', int(0))
    .option('--tokenizer <file>', 'llama2.c tokenizer .bin (a GGUF brings its own)');
}

weightOptions(program.command('run')
  .description('generate text, streaming it, and report tokens/s')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .option('--prompt <text>', 'prompt text', '')
  .option('--steps <n>', 'positions to run, prompt included', int(1), 256)
  .option('--temperature <t>', '0 is greedy', number(0), 1)
  .option('--top-k <k>', 'sample among the k most likely tokens (0: off)', int(0), 0)
  .option('--top-p <p>', 'nucleus sampling mass (1: off)', number(0, 1), 0.9)
  .option('--seed <s>', 'sampler seed (default: the clock)', int(0))
  .addOption(new Option('--backend <name>', 'backend to run on: ref, c').default('ref'))
  .option('--threads <n>', 'threads', int(1), 1)
  .option('--target <name>', 'native target: native, avx512, avx2, scalar', 'native')
  .option('--no-fuse', 'skip the fusion passes (every graph op is its own kernel)')
  .action(runCommand);

weightOptions(program.command('inspect')
  .description('print the bound hyperparameters and the graph IR, or the memory plan')
  .argument('<spec>', 'model or architecture spec (YAML)'))
  .option('--memory', 'print weights, KV cache per token and arena sizes')
  .option('--fusion', 'print every kernel after fusion and every fusion declined, with why')
  .option('--print-after-all', 'print the graph IR after every pass')
  .option('--max-tokens <n>', 'tokens per step the arena is planned for', int(1), 128)
  .option('--target <name>', 'target whose layouts to plan for', 'native')
  .action(inspectCommand);

program.command('compile')
  .description('compile a spec to a native module (C source and .so)')
  .argument('<spec>', 'model spec (YAML)')
  .option('--backend <name>', 'backend to compile for', 'c')
  .option('-o, --out <dir>', 'folder to write model.c and model.so into')
  .option('--emit-c', 'print the generated C to stdout')
  .option('--target <name>', 'native, avx512, avx2, scalar', 'native')
  .action(compileCommand);

try {
  await program.parseAsync();
} catch (e) {
  if (!(e instanceof SmeltError)) throw e;
  process.stderr.write(e.format() + '\n');
  process.exitCode = 1;
}
