// `smelt new-arch NAME --from BASE`: starts a new architecture as a copy of an existing one
// (a name in smelt's specs/ folder, or a path to a .yaml file). The copy gets the new
// family name in `architecture:`, its GGUF metadata keys move from `BASE.*` to `NAME.*`
// (llama.cpp keys a family's metadata by its architecture name), and a header line says
// where it came from. It is checked to load, then written with O_EXCL: an existing file is
// never overwritten (CLI502).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SmeltError } from '../../ir/diagnostics.js';
import { loadSpec } from '../frontend/index.js';

export interface NewArchFlags {
  from: string;
  out?: string;
}

/** smelt's own specs/ folder (next to dist/ once built, next to src/ in a checkout). */
function specsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'specs', 'llama.yaml'))) return join(dir, 'specs');
  }
  return resolve('specs');
}

const NAME = /^[a-z][a-z0-9_]*$/;

/** The text of the new spec: BASE's, renamed. */
export function renamedSpec(text: string, base: string, name: string, from: string): string {
  const header = `# ${name}: started from ${from} by \`smelt new-arch\`; rename what differs.\n`;
  const renamed = text
    .replace(/^architecture:\s*\S+/m, `architecture: ${name}`)
    .replace(new RegExp(`(:\\s*)${base.replace(/\W/g, '\\$&')}\\.`, 'g'), `$1${name}.`);
  return header + renamed;
}

export function newArchCommand(name: string, flags: NewArchFlags): void {
  if (!NAME.test(name)) {
    throw new SmeltError('CLI501', `new-arch ${name}: a family name is lowercase letters, ` +
      'digits and `_`, starting with a letter (it becomes the GGUF key prefix)');
  }
  const from = flags.from.endsWith('.yaml') ? flags.from : join(specsDir(), `${flags.from}.yaml`);
  const base = loadSpec(from).arch; // the base must itself be a valid architecture
  const out = flags.out ?? `${name}.yaml`;
  const text = renamedSpec(readFileSync(from, 'utf8'), ggufPrefix(base) ?? base.name, name, from);
  try {
    writeFileSync(out, text, { flag: 'wx' });
  } catch (err) {
    const { code } = err as NodeJS.ErrnoException;
    const reason = code === 'EEXIST' ? 'it exists, and new-arch never overwrites a file'
      : (err as Error).message.replace(/, \w+ '.*$/, '');
    throw new SmeltError('CLI502', `cannot write ${out}: ${reason}`);
  }
  loadSpec(out); // the copy loads as it is
  process.stderr.write(`wrote ${out}: architecture ${name}, a copy of ${from}\n`);
}

/** The prefix of the base's GGUF metadata keys (`llama` of `llama.embedding_length`). */
function ggufPrefix(arch: ReturnType<typeof loadSpec>['arch']): string | undefined {
  const key = [...(arch.formats.gguf?.params.values() ?? [])]
    .find((p) => p.kind === 'value' && !p.key.startsWith('general.'))?.key;
  return key?.split('.')[0];
}
