// The `smelt` command as a user runs it: real checkpoint, bad input, unknown flags.
// Runs the built CLI (dist/, built by `npm test` before Jest starts).
import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath, readGolden } from './models.js';

function smelt(...args: string[]) {
  return smeltWith({}, ...args);
}

function smeltWith(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync('node', ['dist/src/cli/main.js', ...args],
    { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const bin = () => modelPath('stories260K/stories260K.bin');
const tok = () => modelPath('stories260K/tok512.bin');

describe('smelt run', () => {
  test.each(['ref', 'c', 'wasm'])('greedy stories260K on %s prints the golden story', (backend) => {
    const golden = readGolden<{ text: string }>('stories260K_greedy_once_upon_a_time.json');
    const r = smelt('run', 'specs/stories260k.yaml', '--weights', bin(), '--tokenizer', tok(),
      '--prompt', 'Once upon a time', '--steps', '64', '--temperature', '0', '--backend', backend,
      '--threads', '2');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(golden.text + '\n');
    expect(r.stderr).toMatch(/generated 60 tokens, decode [\d.]+ tok\/s/);
  });

  test('wasm without shared memory says so once and runs on one thread', () => {
    const golden = readGolden<{ text: string }>('stories260K_greedy_once_upon_a_time.json');
    const r = spawnSync('node', ['--no-harmony-sharedarraybuffer', 'dist/src/cli/main.js', 'run',
      'specs/stories260k.yaml', '--weights', bin(), '--tokenizer', tok(), '--prompt',
      'Once upon a time', '--steps', '64', '--temperature', '0', '--backend', 'wasm',
      '--threads', '2'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(golden.text + '\n');
    const note =
      /wasm threads are unavailable here \(no SharedArrayBuffer\); running on one thread/g;
    expect(r.stderr.match(note)).toHaveLength(1);
  });

  test('wasm runs at most one thread per CPU, and says so', () => {
    const r = smelt('run', 'specs/stories260k.yaml', '--random-weights', '1', '--steps', '3',
      '--backend', 'wasm', '--threads', '999', '--seed', '1');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/wasm runs at most one thread per CPU: \d+ threads, not 999/);
  });

  test('a GGUF brings its own tokenizer and its numbers', () => {
    const r = smelt('run', 'specs/llama.yaml', '--weights',
      modelPath('stories260K/stories260K-f32.gguf'), '--prompt', 'Once upon a time',
      '--steps', '12', '--temperature', '0');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Once upon a time, there was a little girl\n');
  });

  test('random weights run without a checkpoint and print every step as token ids', () => {
    const args = ['run', 'specs/stories260k.yaml', '--random-weights', '3', '--steps', '20',
      '--backend', 'c', '--seed', '1'];
    const first = smelt(...args);
    expect(first.code).toBe(0);
    const ids = first.stdout.trim().split(' ').map(Number);
    expect(ids).toHaveLength(20);
    expect(ids.every((id) => id >= 0 && id < 512)).toBe(true);
    expect(smelt(...args).stdout).toBe(first.stdout);
  });
});

describe('--param gives an architecture file its numbers', () => {
  const numbers = ['dim=64', 'hidden_dim=172', 'n_layers=1', 'n_heads=8', 'n_kv_heads=4',
    'vocab_size=512', 'seq_len=64'].flatMap((p) => ['--param', p]);

  test('run --random-weights and init-weights take every number from --param', () => {
    const run = smelt('run', 'specs/llama.yaml', '--random-weights', '1', ...numbers,
      '--steps', '5', '--backend', 'ref');
    expect(run.stderr).not.toMatch(/error/);
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split(' ')).toHaveLength(5);
    const out = join(mkdtempSync(join(tmpdir(), 'smelt-param-')), 'arch.gguf');
    const init = smelt('init-weights', 'specs/llama.yaml', '--seed', '1', '-o', out, ...numbers);
    expect(init.code).toBe(0);
    expect(init.stderr).toMatch(/^wrote .*arch\.gguf: 11 tensors/);
  });

  test('a number neither --param nor a model file sets is SPEC101 naming the flag', () => {
    const r = smelt('inspect', 'specs/llama.yaml', ...numbers.slice(2));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/error SPEC101: param `dim` has no value: .* or set it with --param/);
  });
});

describe('user mistakes are one located line, exit code 1, no stack trace', () => {
  const cases: [string, string[], RegExp][] = [
    ['missing weights file', ['run', 'specs/stories260k.yaml', '--weights', 'nope.bin'],
      /^error WEIGHT301: nope.bin: cannot read: no such file/],
    ['unknown flag', ['run', 'specs/stories260k.yaml', '--bogus'], /unknown option '--bogus'/],
    ['bad number', ['run', 'specs/stories260k.yaml', '--steps', 'x'], /expected a whole number/],
    ['unknown backend', ['run', 'specs/stories260k.yaml', '--random-weights', '1', '--backend',
      'gpu'], /RUN602: unknown backend `gpu` \(available: ref, c, wasm\)/],
    ['unknown target', ['compile', 'specs/stories260k.yaml', '--emit-c', '--target', 'neon'],
      /unknown target `neon`/],
    ['C text from the wasm backend', ['compile', 'specs/stories260k.yaml', '--backend', 'wasm',
      '--emit-c'], /CLI501: --emit-c does not apply to --backend wasm \(use --emit-wat\)/],
    ['nothing to compile on ref', ['compile', 'specs/stories260k.yaml', '--backend', 'ref',
      '-o', 'x'], /CLI501: the ref backend interprets the graph and has nothing to compile/],
    ['prompt without tokenizer', ['run', 'specs/stories260k.yaml', '--random-weights', '1',
      '--prompt', 'hi'], /TOK402/],
    ['weights that do not fit the spec', ['run', 'specs/smollm-135m.yaml', '--weights',
      'STORIES'], /WEIGHT307: .* has dim = 64, but the model file sets dim = 576/],
    ['a --param that contradicts the checkpoint', ['run', 'specs/stories260k.yaml', '--weights',
      'STORIES', '--param', 'n_layers=3'], /WEIGHT307: .* has n_layers = 5, but --param sets/],
  ];
  test.each(cases)('%s', (_, args, message) => {
    const r = smelt(...args.map((a) => (a === 'STORIES' ? bin() : a)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('no C compiler is a clear error saying what to install', () => {
    const r = smeltWith({ SMELT_CC: '/nonexistent/cc', SMELT_CACHE_DIR: mkdtempSync(join(tmpdir(),
      'smelt-nocc-')) }, 'compile', 'specs/stories260k.yaml', '--emit-c');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error BACKEND701: the native backend needs a C compiler.*apt-get install gcc/);
  });

  // /proc refuses children with ENOENT, which sent Node's recursive mkdir into a loop
  test.each(['c', 'wasm'])('a cache folder that cannot be made is BACKEND705 (%s)', (backend) => {
    const r = smeltWith({ SMELT_CACHE_DIR: '/proc/smelt-cache' }, 'run', 'specs/stories260k.yaml',
      '--random-weights', '1', '--steps', '2', '--backend', backend);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error BACKEND705: cannot write the module cache at /proc/smelt-cache ' +
      '(ENOENT); point SMELT_CACHE_DIR at a writable folder\n');
  });

  test('inspect --memory --fusion prints both reports', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml', '--memory', '--fusion');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^weights .*\n/);
    expect(r.stdout).toMatch(/\n\n\d+ kernels after fusion \(\d+ graph ops before\):/);
  });

  test('--target on a backend that does not use it says so', () => {
    const r = smelt('run', 'specs/stories260k.yaml', '--random-weights', '1', '--steps', '2',
      '--backend', 'wasm', '--target', 'avx2');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('note: --target chooses the native code; the wasm backend ' +
      'ignores it\n');
  });

  test('--version prints the package version', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(smelt('--version').stdout).toBe(`${pkg.version}\n`);
  });

  test('a prompt longer than the context is RUN601, and none of it is printed', () => {
    const prompt = 'Once upon a time there was a cat. '.repeat(100);
    const r = smelt('run', 'specs/stories260k.yaml', '--weights', bin(), '--tokenizer', tok(),
      '--prompt', prompt, '--steps', '600', '--backend', 'c');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^(note: .*\n)*error RUN601: the prompt has \d+ tokens, more than /);
    expect(r.stderr).toMatch(/the context of 512 positions\n$/);
  });

  test('a weight file given as the spec is SPEC100, without quoting its bytes', () => {
    const r = smelt('run', bin(), '--random-weights', '1');
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toBe(`${bin()}:1:1: error SPEC100: this is binary data, ` +
      'not a YAML spec (a weight file? pass it as --weights, after the spec)');
    expect(r.stderr.length).toBeLessThan(400);
  });

  test('a bad spec points at its line and column', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelt-cli-'));
    const spec = join(dir, 'bad.yaml');
    writeFileSync(spec, 'model: x\narchitecture: nowhere.yaml\nparams: {}\n');
    const r = smelt('run', spec, '--random-weights', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${spec}:2:15: error SPEC106`);
    expect(r.stderr).toContain(' 2 | architecture: nowhere.yaml');
  });
});

describe('smelt compile and inspect', () => {
  test('--emit-c prints the module with one exported forward', () => {
    const r = smelt('compile', 'specs/stories260k.yaml', '--emit-c');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('void smelt_forward(smelt_model *m');
    expect(r.stdout).toContain('#pragma omp for schedule(static)');
  });

  test('--backend wasm -o writes a valid module and its memory layout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'smelt-wasm-out-'));
    const r = smelt('compile', 'specs/stories260k.yaml', '--backend', 'wasm', '-o', dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/model\.wasm: \d+ kernels, \d+ calls, wasm SIMD128; weights/);
    expect(WebAssembly.validate(readFileSync(join(dir, 'model.wasm')))).toBe(true);
    const layout = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(layout.layout.weights).toBe(256);
    expect(layout.exports.forward).toMatch(/tokens: i32, n: i32, pos: i32, logits: i32/);
  });

  test('--emit-wat prints the text form; with --threads 2, the shared-memory module', () => {
    const one = smelt('compile', 'specs/stories260k.yaml', '--backend', 'wasm', '--emit-wat');
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/^\(module\n/);
    expect(one.stdout).toContain('(func $forward (export "forward")');
    expect(one.stdout).toContain('v128.load32_splat');
    const two = smelt('compile', 'specs/stories260k.yaml', '--backend', 'wasm', '--emit-wat',
      '--threads', '2');
    const sharedMemory = /\(import "env" "memory" \(memory \$env\.memory \d+ 65536 shared\)\)/;
    expect(two.stdout).toMatch(sharedMemory);
    expect(two.stdout).toContain('memory.atomic.wait32');
  });

  test('inspect --memory gives weights, KV cache per token and arena', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml', '--memory');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/weights\s+1\.0 MiB/);
    expect(r.stdout).toMatch(/KV cache\s+640\.0 KiB\s+\(1\.3 KiB per token × 512 positions\)/);
    expect(r.stdout).toMatch(/arena\s+[\d.]+ KiB/);
  });

  test('inspect --fusion lists every kernel and the fusions declined', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml', '--fusion');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^39 kernels after fusion \(93 graph ops before\):/);
    expect(r.stdout).toContain('swiglu_matmul (ffn)            rmsnorm → matmul (gate), matmul');
    expect(r.stdout).toContain('55 fusions taken, 1 declined:');
  });

  test('inspect --print-after-all prints the IR after the frontend and every pass', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml', '--print-after-all');
    const headers = r.stdout.split('\n').filter((l) => l.startsWith('# after'));
    expect(headers).toEqual(['# after frontend', '# after fuse-norm', '# after fuse-swiglu',
      '# after fuse-residual', '# after fuse-bias', '# after fuse-rope', '# after fuse-kv']);
  });

  test('run --no-fuse gives the same greedy text', () => {
    const args = ['run', 'specs/stories260k.yaml', '--weights', bin(), '--tokenizer', tok(),
      '--prompt', 'Lily and Ben', '--steps', '40', '--temperature', '0', '--backend', 'c'];
    expect(smelt(...args, '--no-fuse').stdout).toBe(smelt(...args).stdout);
  });

  test('inspect prints the graph IR', () => {
    const r = smelt('inspect', 'specs/stories260k.yaml');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('matmul %15, %5 : f32[seq, 64]  # q');
  });
});
