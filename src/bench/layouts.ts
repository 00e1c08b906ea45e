// The weight layouts `smelt bench --quant` accepts: the quantization policies of
// passes/layout.ts, handed to the backends as CompileOptions.quant.

import type { CompileOptions } from '../../backends/index.js';
import { SmeltError } from '../../ir/diagnostics.js';

export const LAYOUTS = ['f32', 'f16', 'q8_0', 'q4_0', 'mixed'] as const;
export type BenchLayout = (typeof LAYOUTS)[number];

/** `--quant f32,q8_0` → checked layouts, in order, without repeats. */
export function parseLayouts(text: string): BenchLayout[] {
  const names = [...new Set(text.split(',').map((s) => s.trim()).filter((s) => s !== ''))];
  if (names.length === 0) throw new SmeltError('CLI501', '--quant: expected a list of layouts');
  for (const name of names) {
    if (!(LAYOUTS as readonly string[]).includes(name)) {
      throw new SmeltError('CLI501', `--quant ${name}: unknown layout (known: ` +
        `${LAYOUTS.join(', ')})`);
    }
  }
  return names as BenchLayout[];
}

/** What a layout adds to the compile options. */
export function layoutOption(layout: BenchLayout): Partial<CompileOptions> {
  return { quant: layout };
}
