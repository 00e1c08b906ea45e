// Diagnostics: every user-facing error of smelt comes from the catalog below.
//
// A user mistake (bad spec, bad weight file, bad flag) is a `SmeltError` with a code from
// `CATALOG` and, when it points into a file, a source location; `format()` renders it as
//   specs/x.yaml:12:7: error SPEC201: ...
//      12 |   - { out: q, op: matmul, in: [h, wq] }
//         |       ^^^^^
// A broken invariant inside smelt is an `InternalError` naming the pass or component: that is
// a bug in smelt, not in the input, and it keeps its stack trace.

/**
 * Codes by hundreds: SPEC1xx structure, SPEC2xx graph, WEIGHT3xx, TOK4xx, CLI5xx, RUN6xx,
 * BACKEND7xx, EVAL8xx (quality measurements: `smelt perplexity`).
 */
export const CATALOG = {
  SPEC100: 'YAML syntax error',
  SPEC101: 'missing field',
  SPEC102: 'wrong field type',
  SPEC103: 'unknown field',
  SPEC104: 'bad expression',
  SPEC105: 'unknown parameter',
  SPEC106: 'cannot read spec file',
  SPEC107: 'bad quantization setting',
  SPEC201: 'unknown op',
  SPEC202: 'wrong arity',
  SPEC203: 'shape mismatch',
  SPEC204: 'bad dimension',
  SPEC205: 'unknown value',
  SPEC206: 'missing weight mapping',
  SPEC207: 'bad attribute',
  SPEC208: 'bad weight name',
  WEIGHT301: 'cannot read weight file',
  WEIGHT302: 'truncated or corrupt weight file',
  WEIGHT303: 'unsupported weight format',
  WEIGHT304: 'weight shape mismatch',
  WEIGHT305: 'weight dtype not supported',
  WEIGHT306: 'missing tensor',
  WEIGHT307: 'hyperparameter mismatch',
  TOK401: 'cannot read tokenizer',
  TOK402: 'no tokenizer',
  CLI501: 'bad option',
  CLI502: 'cannot write output file',
  CLI504: 'peer benchmark failed',
  CLI505: 'peer needs GGUF weights',
  RUN601: 'context overflow',
  RUN602: 'unknown backend',
  RUN603: 'token id out of range',
  RUN604: 'non-finite logits',
  RUN605: 'model too large for this machine',
  BACKEND701: 'no C compiler',
  BACKEND702: 'C compilation failed',
  BACKEND703: 'cannot load compiled module',
  BACKEND705: 'cannot write the module cache',
  BACKEND704: 'model does not fit a wasm32 memory',
  EVAL801: 'cannot read text file',
  EVAL802: 'text too short',
  EVAL803: 'models not comparable',
} as const;

export type DiagnosticCode = keyof typeof CATALOG;

/** A place in a source file: 1-based line and column, and how many columns to underline. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
  length: number;
  /** The full text of the file, for printing the source line. */
  source?: string;
}

export class SmeltError extends Error {
  constructor(
    readonly code: DiagnosticCode,
    readonly detail: string,
    readonly location?: SourceLocation,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'SmeltError';
  }

  /**
   * `file:line:col: error CODE: detail`, then the source line and a caret under the range.
   * A range that runs past its first line is underlined to the end of that line.
   */
  format(): string {
    const loc = this.location;
    if (!loc) return `error ${this.code}: ${this.detail}`;
    const head = `${loc.file}:${loc.line}:${loc.col}: error ${this.code}: ${this.detail}`;
    const text = loc.source?.split('\n')[loc.line - 1]?.replace(/\r$/, '');
    if (text === undefined) return head;
    const gutter = String(loc.line).length;
    const width = Math.max(1, Math.min(loc.length, text.length - (loc.col - 1)));
    const caret = ' '.repeat(loc.col - 1) + '^'.repeat(width);
    return [
      head,
      ` ${loc.line} | ${text}`,
      ` ${' '.repeat(gutter)} | ${caret}`,
    ].join('\n');
  }
}

/** A bug in smelt: an invariant that a pass or component relies on does not hold. */
export class InternalError extends Error {
  constructor(component: string, detail: string) {
    super(`internal error in ${component}: ${detail}`);
    this.name = 'InternalError';
  }
}

/** Ends an exhaustive switch: a new member of the union fails the build here. */
export function assertNever(x: never, what = 'value'): never {
  throw new InternalError('assertNever', `unhandled ${what}: ${JSON.stringify(x)}`);
}

/** Maps a 0-based character offset in `source` to a 1-based line and column. */
export function locate(
  file: string,
  source: string,
  offset: number,
  length: number,
): SourceLocation {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { file, line, col: offset - lineStart + 1, length, source };
}
