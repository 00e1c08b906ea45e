// Creating cache folders. Node's `mkdirSync(path, { recursive: true })` never returns when a
// parent refuses children with ENOENT instead of an error it expects (/proc/x: it retries
// the parent forever), so folders are made one level at a time from the nearest existing
// ancestor, and the first refusal is thrown.

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeFolders(path: string): void {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      if (statSync(at).isDirectory()) break;
      throw Object.assign(new Error(`${at} is not a folder`), { code: 'ENOTDIR' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.push(at);
    const parent = dirname(at);
    if (parent === at) break;
    at = parent;
  }
  for (const folder of missing.reverse()) mkdirSync(folder);
}
