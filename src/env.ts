// Every debug knob smelt reads, in one registry. Nothing else reads `process.env`.
//
// Each knob has a `SMELT_` name and a one-line doc; `smelt --help` prints this table.

export interface Knob {
  name: string;
  doc: string;
}

export const KNOBS = {
  debug: {
    name: 'SMELT_DEBUG',
    doc: 'verbosity: 2 pass times, 3 IR after each pass, 4 generated source, 5 compiler commands',
  },
  models: {
    name: 'SMELT_MODELS',
    doc: 'folder holding the shared stories260K checkpoint and goldens (default ../shared/models)',
  },
  cacheDir: {
    name: 'SMELT_CACHE_DIR',
    doc: 'folder for compiled modules (default $XDG_CACHE_HOME/smelt or ~/.cache/smelt)',
  },
  cc: {
    name: 'SMELT_CC',
    doc: 'C compiler for the native backend (default cc)',
  },
  xdgCache: {
    name: 'XDG_CACHE_HOME',
    doc: 'standard user cache folder; smelt keeps compiled modules in its smelt/ subfolder',
  },
} as const satisfies Record<string, Knob>;

export type KnobName = keyof typeof KNOBS;

/** The raw string value of a knob, or undefined when unset. */
export function knob(name: KnobName): string | undefined {
  const value = process.env[KNOBS[name].name as string];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Sets (or, with undefined, clears) a knob for the rest of this process, for code that runs
 * a step under other settings (`smelt bench` compiles cold under an empty cache folder).
 */
export function setKnob(name: KnobName, value: string | undefined): void {
  if (value === undefined) delete process.env[KNOBS[name].name];
  else process.env[KNOBS[name].name] = value;
}

/** SMELT_DEBUG as a number; 0 when unset or not a number. */
export function debugLevel(): number {
  const n = Number(knob('debug') ?? 0);
  return Number.isFinite(n) ? n : 0;
}
