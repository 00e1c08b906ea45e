// Renders a kernel program to one C file: GCC vector extensions, OpenMP, no intrinsics
// (so no <immintrin.h>, whose parse alone costs 0.2–0.3 s per compile).
//
// Layout of the file: prelude (vector types, horizontal sums), one `static` function per
// kernel, then the exported API:
//   int  smelt_init(int threads)      allocate the weight, state and arena regions
//   void smelt_set_weights(offset, data, count)
//   void smelt_reset(void)            zero the KV cache
//   void smelt_forward(tokens, n, pos, logits)   one whole step, in one parallel region
// Inside `smelt_forward` every kernel runs in the same OpenMP team: a top-level parallel
// loop becomes `omp for` (static schedule: an iteration is computed whole by one thread,
// so results do not depend on the thread count), anything else runs under `omp single`.

import { assertNever } from '../../ir/diagnostics.js';
import type { KExpr, KStmt, Kernel, KernelProgram, ScalarType } from '../../ir/kernel.js';

const C_TYPE: Record<ScalarType, string> = { f32: 'float', f64: 'double', i32: 'int' };

function vecType(lanes: number): string {
  return `f32x${lanes}`;
}

function floatLiteral(value: number): string {
  if (value === Infinity) return 'INFINITY';
  if (value === -Infinity) return '(-INFINITY)';
  const text = String(value);
  return /[.e]/.test(text) ? `${text}f` : `${text}.0f`;
}

const MATH: Record<string, string> = { exp: 'expf', sqrt: 'sqrtf', cos: 'cos', sin: 'sin', pow: 'pow' };

export function renderExpr(e: KExpr): string {
  switch (e.k) {
    case 'int':
      return e.value < 0 ? `(${e.value})` : String(e.value);
    case 'float':
      return floatLiteral(e.value);
    case 'var':
      return e.name;
    case 'bin':
      if (e.op === 'max') return `fmaxf(${renderExpr(e.a)}, ${renderExpr(e.b)})`;
      if (e.op === 'min') return `fminf(${renderExpr(e.a)}, ${renderExpr(e.b)})`;
      return `(${renderExpr(e.a)} ${e.op} ${renderExpr(e.b)})`;
    case 'call':
      return `${MATH[e.fn]}(${e.args.map(renderExpr).join(', ')})`;
    case 'load':
      return e.lanes === 1 ? `${e.buf}[${renderExpr(e.index)}]`
        : `(*(const ${vecType(e.lanes)} *)(${e.buf} + ${renderExpr(e.index)}))`;
    case 'splat':
      return e.lanes === 1 ? renderExpr(e.value)
        : `((${vecType(e.lanes)}){0} + (${renderExpr(e.value)}))`;
    case 'hsum':
      return e.lanes === 1 ? renderExpr(e.value) : `hsum${e.lanes}(${renderExpr(e.value)})`;
    case 'cast':
      return `((${C_TYPE[e.to]})(${renderExpr(e.value)}))`;
    default:
      return assertNever(e, 'kernel expression');
  }
}

function renderStmt(s: KStmt, indent: string, out: string[], topLevel: boolean): void {
  switch (s.k) {
    case 'for': {
      if (topLevel && s.parallel) out.push(`${indent}#pragma omp for schedule(static)`);
      const step = s.step === 1 ? `${s.var}++` : `${s.var} += ${s.step}`;
      out.push(`${indent}for (int ${s.var} = ${renderExpr(s.from)}; ${s.var} < ` +
        `${renderExpr(s.to)}; ${step}) {`);
      for (const b of s.body) renderStmt(b, indent + '  ', out, false);
      out.push(`${indent}}`);
      return;
    }
    case 'let': {
      const type = s.lanes === 1 ? C_TYPE[s.type] : vecType(s.lanes);
      out.push(`${indent}${type} ${s.name} = ${renderExpr(s.value)};`);
      return;
    }
    case 'set':
      out.push(`${indent}${s.name} = ${renderExpr(s.value)};`);
      return;
    case 'store':
      if (s.lanes === 1) {
        out.push(`${indent}${s.buf}[${renderExpr(s.index)}] = ${renderExpr(s.value)};`);
      } else {
        out.push(`${indent}*(${vecType(s.lanes)} *)(${s.buf} + ${renderExpr(s.index)}) = ` +
          `${renderExpr(s.value)};`);
      }
      return;
    case 'array':
      out.push(`${indent}float ${s.name}[${s.size}] = {0};`);
      return;
    case 'if':
      out.push(`${indent}if (${renderExpr(s.cond.a)} ${s.cond.op} ${renderExpr(s.cond.b)}) {`);
      for (const b of s.then) renderStmt(b, indent + '  ', out, false);
      out.push(`${indent}}`);
      return;
    case 'comment':
      out.push(`${indent}// ${s.text}`);
      return;
    default:
      assertNever(s, 'kernel statement');
  }
}

function renderKernel(kernel: Kernel): string {
  const params = kernel.params.map((p) => {
    const type = p.type === 'i32' ? 'int32_t' : 'float';
    return `${p.out ? '' : 'const '}${type} *restrict ${p.name}`;
  });
  const lines = [`// ${kernel.doc}`,
    `static void ${kernel.name}(${[...params, 'int n', 'int pos'].join(', ')}) {`];
  for (const s of kernel.body) {
    if (s.k === 'for' && s.parallel) {
      renderStmt(s, '  ', lines, true);
    } else {
      lines.push('  #pragma omp single');
      lines.push('  {');
      renderStmt(s, '    ', lines, false);
      lines.push('  }');
    }
  }
  lines.push('}');
  return lines.join('\n');
}

/** Horizontal sums as a fixed pairwise tree: fast, and the same order on every call. */
function prelude(lanesUsed: number[]): string {
  const lines = [
    '#include <math.h>',
    '#include <stdint.h>',
    '#include <stdlib.h>',
    '#include <string.h>',
    '#include <sys/mman.h>',
    '',
  ];
  const all = [...new Set([...lanesUsed, ...lanesUsed.flatMap((l) => halves(l))])]
    .filter((l) => l > 1).sort((a, b) => a - b);
  for (const l of all) {
    lines.push(`typedef float f32x${l} __attribute__((vector_size(${l * 4}), aligned(4)));`);
  }
  for (const l of all) {
    if (l === 2) {
      lines.push('static inline float hsum2(f32x2 v) { return v[0] + v[1]; }');
      continue;
    }
    const half = l / 2;
    const lo = [...Array(half).keys()].join(', ');
    const hi = [...Array(half).keys()].map((i) => i + half).join(', ');
    lines.push(`static inline float hsum${l}(f32x${l} v) {`,
      `  return hsum${half}(__builtin_shufflevector(v, v, ${lo}) + ` +
      `__builtin_shufflevector(v, v, ${hi}));`, '}');
  }
  return lines.join('\n');
}

function halves(lanes: number): number[] {
  const out: number[] = [];
  for (let l = lanes / 2; l >= 2; l /= 2) out.push(l);
  return out;
}

function lanesIn(program: KernelProgram): number[] {
  const found = new Set<number>();
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(visit);
    if (x && typeof x === 'object') {
      const lanes = (x as { lanes?: unknown }).lanes;
      if (typeof lanes === 'number') found.add(lanes);
      Object.values(x).forEach(visit);
    }
  };
  visit(program.kernels);
  return [...found];
}

const REGION_BASE = { weights: 'W', states: 'S', arena: 'A', tokens: 'tokens', logits: 'logits' };

function api(program: KernelProgram): string {
  const { weights, states, arena } = program.sizes;
  const calls = program.calls.map((c) => {
    const args = c.args.map((a) => (a.offset === 0 ? REGION_BASE[a.region]
      : `${REGION_BASE[a.region]} + ${a.offset}`));
    return `    ${c.kernel}(${[...args, 'n', 'pos'].join(', ')});  // %${c.node}`;
  });
  return `
static float *W, *S, *A;
static int team = 1;

static float *region(size_t floats) {
  size_t bytes = (floats * sizeof(float) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
  void *p = NULL;
  if (bytes == 0) bytes = 2u << 20;
  if (posix_memalign(&p, 2u << 20, bytes) != 0) return NULL;
  madvise(p, bytes, MADV_HUGEPAGE);
  memset(p, 0, bytes);
  return p;
}

int smelt_init(int threads) {
  team = threads > 0 ? threads : 1;
  if (W) return 0;
  W = region(${weights}ull);
  S = region(${states}ull);
  A = region(${arena}ull);
  return W && S && A ? 0 : -1;
}

void smelt_set_weights(int64_t offset, const float *data, int64_t count) {
  memcpy(W + offset, data, (size_t)count * sizeof(float));
}

void smelt_reset(void) {
  memset(S, 0, ${states}ull * sizeof(float));
}

/* One step: tokens[n] at positions pos..pos+n-1 (n <= ${program.maxTokens}); logits[n, ${program.vocab}]. */
void smelt_forward(const int32_t *tokens, int n, int pos, float *logits) {
  #pragma omp parallel num_threads(team)
  {
${calls.join('\n')}
  }
}
`;
}

export function renderC(program: KernelProgram): string {
  return [
    `/* generated by smelt: ${program.kernels.length} kernels, ${program.calls.length} calls */`,
    prelude(lanesIn(program)),
    '',
    ...program.kernels.map(renderKernel).flatMap((k) => [k, '']),
    api(program),
  ].join('\n');
}
