// The text form of a built module, through wabt (`smelt compile --emit-wat`, SMELT_DEBUG=4).
// wabt checks the binary against its own feature flags, given to `readWasm` and again to
// `validate` (which does not inherit them).

import { InternalError } from '../../ir/diagnostics.js';

/** wabt's names for the features the renderer uses. */
function features(threaded: boolean) {
  return { simd: true, threads: threaded, bulk_memory: true, sat_float_to_int: true,
    mutable_globals: true, sign_extension: true };
}

export async function toWat(binary: Uint8Array, threaded: boolean): Promise<string> {
  const wabt = (await import('wabt')).default; // loaded on demand: a 1 MB Emscripten module
  const module = (await wabt()).readWasm(binary, { readDebugNames: true, ...features(threaded) });
  try {
    (module.validate as (options: ReturnType<typeof features>) => void)(features(threaded));
    module.generateNames();
    module.applyNames();
    return `${module.toText({ foldExprs: false, inlineExport: true }).trimEnd()}\n`;
  } catch (e) {
    throw new InternalError('wasm text', `wabt rejected the module: ${(e as Error).message}`);
  } finally {
    module.destroy();
  }
}
