// Compiles generated C to a shared library, once: the `.so` is cached under a key of the
// source, the flags and the compiler's version, so a warm start only hashes and loads.
//
// This is the only file of smelt that spawns the C compiler. A missing compiler and a
// failed compile are user-facing errors (BACKEND701/702): the latter shows the compiler's
// first error with the generated line it points at.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SmeltError } from '../../ir/diagnostics.js';
import { makeFolders } from '../dirs.js';
import { debugLevel, knob } from '../../src/env.js';

export interface CompiledLibrary {
  path: string;
  /** True when the library came from the cache. */
  cached: boolean;
  seconds: number;
}

const versions = new Map<string, string>();

export function compilerCommand(): string {
  return knob('cc') ?? 'cc';
}

/** `cc --version`'s first line; BACKEND701 with install advice when there is no compiler. */
export function compilerVersion(cc = compilerCommand()): string {
  const known = versions.get(cc);
  if (known) return known;
  const probe = spawnSync(cc, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new SmeltError('BACKEND701', `the native backend needs a C compiler, and \`${cc}\` ` +
      'could not be run. Install GCC (Debian/Ubuntu: apt-get install gcc; Fedora: dnf install ' +
      'gcc) or point SMELT_CC at a compiler; the ref backend needs none');
  }
  const version = probe.stdout.split('\n')[0]!.trim();
  versions.set(cc, version);
  return version;
}

export function cacheDir(): string {
  const base = knob('cacheDir') ??
    join(knob('xdgCache') ?? join(homedir(), '.cache'), 'smelt');
  writable(() => makeFolders(base), base);
  return base;
}

/** Runs a file-system step of the cache; failure names the folder and how to move it. */
function writable<T>(step: () => T, path: string): T {
  try {
    return step();
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SmeltError('BACKEND705', `cannot write the module cache at ${path} (${reason}); ` +
      'point SMELT_CACHE_DIR at a writable folder');
  }
}

/** The compiler's first error, with the generated source line it names. */
function explainFailure(stderr: string, source: string, file: string): string {
  const lines = source.split('\n');
  const first = stderr.split('\n').find((l) => /:\d+:\d+: (fatal )?error:/.test(l)) ??
    stderr.split('\n').find((l) => l.trim() !== '') ?? '(no output)';
  const at = /:(\d+):\d+:/.exec(first);
  const line = at ? lines[Number(at[1]) - 1] : undefined;
  return `${first.trim()}${line === undefined ? '' : `\n  generated line: ${line.trim()}`}` +
    `\n  source kept at ${file}`;
}

export function compileShared(source: string, flags: string[], name: string): CompiledLibrary {
  const cc = compilerCommand();
  const version = compilerVersion(cc);
  const key = createHash('sha256').update(`${source}\0${flags.join(' ')}\0${version}`)
    .digest('hex').slice(0, 20);
  const dir = join(cacheDir(), key);
  const lib = join(dir, `${name}.so`);
  if (existsSync(lib)) return { path: lib, cached: true, seconds: 0 };

  const src = join(dir, `${name}.c`);
  writable(() => {
    makeFolders(dir);
    writeFileSync(src, source);
  }, dir);
  const tmp = `${lib}.${process.pid}.tmp`;
  const args = [...flags, '-o', tmp, src, '-lm'];
  if (debugLevel() >= 5) process.stderr.write(`smelt: ${cc} ${args.join(' ')}\n`);
  const start = performance.now();
  const run = spawnSync(cc, args, { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new SmeltError('BACKEND702', `${cc} failed to compile the generated module:\n  ` +
      explainFailure(run.stderr ?? String(run.error), source, src));
  }
  if (!existsSync(tmp)) {
    throw new SmeltError('BACKEND702', `${cc} exited successfully but wrote no library ` +
      `(${tmp}); is SMELT_CC a C compiler?`);
  }
  renameSync(tmp, lib); // atomic: a concurrent compile of the same key is harmless
  return { path: lib, cached: false, seconds: (performance.now() - start) / 1000 };
}

/** Drops a cached library that failed to load, so that the next compile rebuilds it. */
export function evict(path: string): void {
  rmSync(path, { force: true });
}
