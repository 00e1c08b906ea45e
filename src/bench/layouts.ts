// The weight layouts `smelt bench --quant` accepts, and which of them this build can run.
//
// Quantized layouts arrive as a `quant` field of CompileOptions on another branch. Until
// then only f32 runs: `AVAILABLE` is the list to widen and `layoutOption` the one line that
// hands the layout to the backend once that field exists.

import type { CompileOptions } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';

export const LAYOUTS = ['f32', 'f16', 'q8_0', 'q4_0', 'mixed'] as const;
export type BenchLayout = (typeof LAYOUTS)[number];

/** Layouts the backends of this build compile. */
const AVAILABLE: readonly BenchLayout[] = ['f32'];

/** `--quant f32,q8_0` → checked layouts, in order, without repeats. */
export function parseLayouts(text: string): BenchLayout[] {
  const names = [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (names.length === 0) throw new SmeltError('CLI501', '--quant: expected a list of layouts');
  for (const name of names) {
    if (!(LAYOUTS as readonly string[]).includes(name)) {
      throw new SmeltError('CLI501', `--quant ${name}: unknown layout (known: ` +
        `${LAYOUTS.join(', ')})`);
    }
    if (!AVAILABLE.includes(name as BenchLayout)) {
      throw new SmeltError('CLI503', `layout ${name} is not available in this build ` +
        `(available: ${AVAILABLE.join(', ')})`);
    }
  }
  return names as BenchLayout[];
}

/** What a layout adds to the compile options (f32 is the backends' default). */
export function layoutOption(_layout: BenchLayout): Partial<CompileOptions> {
  return {};
}
