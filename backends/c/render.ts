// Renders a kernel program to one C file: GCC vector extensions, OpenMP, no intrinsics
// (so no <immintrin.h>, whose parse alone costs 0.2–0.3 s per compile).
//
// Layout of the file: prelude (vector types, horizontal sums), one `static` function per
// kernel, then the exported API over an opaque `smelt_model` (one per loaded instance):
//   smelt_new(threads)                   allocate the weight, state and arena regions
//   smelt_set_weights(m, offset, data, count)
//   smelt_reset(m)                       zero the KV cache
//   smelt_forward(m, tokens, n, pos, logits)   one whole step, in one parallel region
//   smelt_free(m)
//   smelt_profile(m, seconds, reset)      instrumented builds only: seconds per call
// Inside `smelt_forward` every kernel runs in the same OpenMP team: a top-level parallel
// loop becomes `omp for` (static schedule: an iteration is computed whole by one thread,
// so results do not depend on the thread count), anything else runs under `omp single`.
// An instrumented build (`profile`) reads the clock on the master thread after every call:
// each kernel ends at a barrier, so the gap between two reads is that call's time.

import { assertNever } from '../../ir/diagnostics.js';
import type { ElemType, KExpr, KStmt, Kernel, KernelProgram, ScalarType } from '../../ir/kernel.js';
import { VECTOR_EXP } from '../../ir/kernel.js';
import { HALF1, quantHelpers } from './quant.js';

const C_TYPE: Record<ScalarType, string> = { f32: 'float', f64: 'double', i32: 'int' };
const ELEM: Record<ElemType, string> = { f32: 'float', i32: 'int32_t', i8: 'int8_t',
  u8: 'uint8_t' };

function vecType(lanes: number, type: ScalarType = 'f32'): string {
  return `${type === 'i32' ? 'i32' : 'f32'}x${lanes}`;
}

function floatLiteral(value: number): string {
  if (value === Infinity) return 'INFINITY';
  if (value === -Infinity) return '(-INFINITY)';
  const text = String(value);
  return /[.e]/.test(text) ? `${text}f` : `${text}.0f`;
}

// exp and max dispatch on their argument's type (_Generic, see the prelude): a vector gets
// the polynomial `vexp` / lane-wise `vmax`, a scalar libm's expf / fmaxf.
const MATH: Record<string, string> = {
  exp: 'smelt_exp', sqrt: 'sqrtf', cos: 'cos', sin: 'sin', pow: 'pow', abs: 'fabsf', round: 'rintf',
};

export function renderExpr(e: KExpr): string {
  switch (e.k) {
    case 'int':
      return e.value < 0 ? `(${e.value})` : String(e.value);
    case 'float':
      return floatLiteral(e.value);
    case 'var':
      return e.name;
    case 'bin':
      if (e.op === 'max') return `smelt_max(${renderExpr(e.a)}, ${renderExpr(e.b)})`;
      if (e.op === 'min') return `smelt_min(${renderExpr(e.a)}, ${renderExpr(e.b)})`;
      if (e.op === 'imin') {
        const [a, b] = [renderExpr(e.a), renderExpr(e.b)];
        return `(${a} < ${b} ? ${a} : ${b})`;
      }
      return `(${renderExpr(e.a)} ${e.op} ${renderExpr(e.b)})`;
    case 'call':
      return `${MATH[e.fn]}(${e.args.map(renderExpr).join(', ')})`;
    case 'load':
      return e.lanes === 1 ? `${e.buf}[${renderExpr(e.index)}]`
        : `(*(const ${vecType(e.lanes)} *)(${e.buf} + ${renderExpr(e.index)}))`;
    case 'splat':
      if (e.lanes === 1) return renderExpr(e.value);
      if (e.value.k === 'float' && e.value.value === 0) return `(${vecType(e.lanes)}){0}`;
      return `((${vecType(e.lanes)}){0} + ${renderExpr(e.value)})`;
    case 'hsum':
      return e.lanes === 1 ? renderExpr(e.value) : `hsum${e.lanes}(${renderExpr(e.value)})`;
    case 'cast':
      if (e.lanes !== undefined && e.lanes > 1) {
        return `__builtin_convertvector(${renderExpr(e.value)}, ${vecType(e.lanes, e.to)})`;
      }
      return `((${C_TYPE[e.to]})(${renderExpr(e.value)}))`;
    case 'half':
      return `half${e.lanes}(${e.buf} + ${renderExpr(e.index)})`;
    case 'qdot':
      return `qdot_${e.kind}_${e.lanes}(${e.w} + ${renderExpr(e.wAt)}, ${e.x} + ` +
        `${renderExpr(e.xAt)}, ${renderExpr(e.xsum)})`;
    case 'qvalue':
      return `qval_${e.kind}_${e.lanes}(${e.w} + ${renderExpr(e.at)}, ${e.j})`;
    case 'lane':
      return `(${renderExpr(e.value)})[${e.index}]`;
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
      const type = s.lanes === 1 ? C_TYPE[s.type] : vecType(s.lanes, s.type);
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
      out.push(`${indent}float ${s.name}[${s.size}]${s.zero ? ' = {0}' : ''};`);
      return;
    case 'if':
      out.push(`${indent}if (${renderExpr(s.cond.a)} ${s.cond.op} ${renderExpr(s.cond.b)}) {`);
      for (const b of s.then) renderStmt(b, indent + '  ', out, false);
      if (s.else) {
        out.push(`${indent}} else {`);
        for (const b of s.else) renderStmt(b, indent + '  ', out, false);
      }
      out.push(`${indent}}`);
      return;
    case 'comment':
      out.push(`${indent}// ${s.text}`);
      return;
    case 'prefetch':
      out.push(`${indent}__builtin_prefetch(${s.buf} + ${renderExpr(s.index)});`);
      return;
    case 'view':
      out.push(`${indent}${ELEM[s.type]} *restrict ${s.name} = (${ELEM[s.type]} *)(${s.buf} + ` +
        `${renderExpr(s.offset)});`);
      return;
    default:
      assertNever(s, 'kernel statement');
  }
}

/**
 * Statements at a kernel's top level run in the whole team: parallel loops as `omp for`,
 * locals and branches on step scalars in every thread alike, anything else once.
 */
function renderTopLevel(body: KStmt[], indent: string, lines: string[]): void {
  for (const s of body) {
    if ((s.k === 'for' && s.parallel) || s.k === 'let' || s.k === 'view') {
      renderStmt(s, indent, lines, true); // a local is computed by every thread alike
    } else if (s.k === 'if') {
      lines.push(`${indent}if (${renderExpr(s.cond.a)} ${s.cond.op} ${renderExpr(s.cond.b)}) {`);
      renderTopLevel(s.then, indent + '  ', lines);
      if (s.else) {
        lines.push(`${indent}} else {`);
        renderTopLevel(s.else, indent + '  ', lines);
      }
      lines.push(`${indent}}`);
    } else {
      lines.push(`${indent}#pragma omp single`, `${indent}{`);
      renderStmt(s, indent + '  ', lines, false);
      lines.push(`${indent}}`);
    }
  }
}

function renderKernel(kernel: Kernel): string {
  const params = kernel.params.map((p) =>
    `${p.out ? '' : 'const '}${ELEM[p.type]} *restrict ${p.name}`);
  const lines = [`// ${kernel.doc}`,
    `static void ${kernel.name}(${[...params, 'int n', 'int pos'].join(', ')}) {`];
  renderTopLevel(kernel.body, '  ', lines);
  lines.push('}');
  return lines.join('\n');
}

/**
 * Vector types, horizontal sums as a fixed pairwise tree (fast, and the same order on every
 * call), the vector forms of max, min and exp behind type-generic macros, and the helpers of
 * quantized weights.
 */
function prelude(lanesUsed: number[], program: KernelProgram): string {
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
    lines.push(`typedef float f32x${l} __attribute__((vector_size(${l * 4}), aligned(4)));`,
      `typedef int32_t i32x${l} __attribute__((vector_size(${l * 4}), aligned(4)));`);
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
  // quantized weights: helpers for the target's vector width (the only width they use)
  const widths = lanesIn(program, ['half', 'qdot', 'qvalue']);
  if (widths.length > 0) {
    lines.push(HALF1);
    const { target, vnni } = program.isa;
    for (const l of widths.filter((w) => w > 1)) lines.push(quantHelpers(l, target, vnni));
  }
  const wide = all.filter((l) => l >= 4);
  for (const l of wide) lines.push(...vectorMath(l));
  // `_Generic` picks by the (unevaluated) first argument's type
  const generic = (name: string, args: string, scalar: string, fn: string) =>
    `#define ${name}(${args}) _Generic((a), ` +
    [...wide.map((l) => `f32x${l}: ${fn}${l}`), `default: ${scalar}`].join(', ') + `)(${args})`;
  lines.push(generic('smelt_exp', 'a', 'expf', 'vexp'),
    generic('smelt_max', 'a, b', 'fmaxf', 'vmax'), generic('smelt_min', 'a, b', 'fminf', 'vmin'));
  return lines.join('\n');
}

/**
 * Lane-wise max/min (by mask: a vector `?:` is C++ only) and exp: VECTOR_EXP (ir/kernel.ts),
 * the same steps as the WASM backend's `exp4`: n = round(x·log2 e) by the
 * 1.5·2²³ trick, r = x − n·ln 2 in two parts, a degree-6 polynomial in r, times 2ⁿ built in
 * the exponent bits. Inputs are clamped to [−87.34, 88.02] (so 2ⁿ stays a normal float);
 * below −87.34, exp(−∞) included, the result is 0. Relative error ≲ 2e−7.
 */
function vectorMath(l: number): string[] {
  const f = `f32x${l}`;
  const i = `i32x${l}`;
  const e = VECTOR_EXP;
  const c = (value: number) => `(${floatLiteral(value)})`;
  return [
    `static inline ${f} vmax${l}(${f} a, ${f} b) {`,
    `  ${i} m = a > b; return (${f})(((${i})a & m) | ((${i})b & ~m));`,
    '}',
    `static inline ${f} vmin${l}(${f} a, ${f} b) {`,
    `  ${i} m = a < b; return (${f})(((${i})a & m) | ((${i})b & ~m));`,
    '}',
    `static inline ${f} vexp${l}(${f} x) {`,
    `  const ${f} zero = {0};`,
    `  ${i} live = x >= zero + ${c(e.low)};`,
    `  x = vmin${l}(vmax${l}(x, zero + ${c(e.low)}), zero + ${c(e.high)});`,
    `  ${f} n = (x * ${c(e.log2e)} + 12582912.0f) - 12582912.0f;`,
    `  ${f} r = (x - n * ${c(e.ln2Hi)}) + n * ${c(e.ln2Lo)};`,
    `  ${f} p = zero + ${c(e.poly[0])};`,
    ...e.poly.slice(1).map((k) => `  p = p * r + ${c(k)};`),
    '  p = (p * (r * r) + r) + 1.0f;',
    `  ${i} e = (__builtin_convertvector(n, ${i}) + 127) << 23;`,
    `  return (${f})((${i})(p * (${f})e) & live);`,
    '}',
  ];
}

function halves(lanes: number): number[] {
  const out: number[] = [];
  for (let l = lanes / 2; l >= 2; l /= 2) out.push(l);
  return out;
}

/** Vector widths in the program (of the expressions of the given kinds, if given). */
function lanesIn(program: KernelProgram, kinds?: string[]): number[] {
  const found = new Set<number>();
  const visit = (x: unknown): void => {
    if (Array.isArray(x)) return x.forEach(visit);
    if (x && typeof x === 'object') {
      const { lanes, k } = x as { lanes?: unknown; k?: unknown };
      const wanted = !kinds || kinds.includes(k as string);
      if (typeof lanes === 'number' && wanted) found.add(lanes);
      Object.values(x).forEach(visit);
    }
  };
  visit(program.kernels);
  return [...found];
}

const REGION_BASE = { weights: 'W', states: 'S', arena: 'A', tokens: 'tokens', logits: 'logits' };

/** `CLOCK_MONOTONIC` seconds and the export that hands the per-call sums to the runtime. */
function profiler(calls: number): string {
  return `
#include <time.h>
static double smelt_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* seconds[${calls}]: time in each call since the last reset, summed over steps. */
void smelt_profile(smelt_model *m, double *seconds, int reset) {
  memcpy(seconds, m->prof, sizeof m->prof);
  if (reset) memset(m->prof, 0, sizeof m->prof);
}
`;
}

function api(program: KernelProgram, profile: boolean): string {
  const { weights, states, arena } = program.sizes;
  const params = new Map(program.kernels.map((k) => [k.name, k.params]));
  const calls = program.calls.map((c, i) => {
    const args = c.args.map((a, j) => {
      const at = a.offset === 0 ? REGION_BASE[a.region] : `${REGION_BASE[a.region]} + ${a.offset}`;
      return params.get(c.kernel)?.[j]?.type === 'u8' ? `(const uint8_t *)(${at})` : at;
    });
    const call = `    ${c.kernel}(${[...args, 'n', 'pos'].join(', ')});  // %${c.node}`;
    return profile ? `${call}\n    #pragma omp master\n    { double t = smelt_now(); ` +
      `m->prof[${i}] += t - t_last; t_last = t; }` : call;
  });
  return `
/* One loaded model: its weight, KV-cache and arena regions and its thread count. */
typedef struct { float *W, *S, *A; int team;${profile
    ? ` double prof[${program.calls.length}];` : ''} } smelt_model;
${profile ? profiler(program.calls.length) : ''}
static float *region(size_t floats) {
  size_t huge = 2u << 20;
  size_t bytes = (floats * sizeof(float) + huge - 1) & ~(huge - 1);
  void *p = NULL;
  if (bytes == 0) bytes = huge;
  if (posix_memalign(&p, huge, bytes) != 0) return NULL;
  madvise(p, bytes, MADV_HUGEPAGE);
  memset(p, 0, bytes);
  return p;
}

void smelt_free(smelt_model *m) {
  if (!m) return;
  free(m->W);
  free(m->S);
  free(m->A);
  free(m);
}

smelt_model *smelt_new(int threads) {
  smelt_model *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->team = threads > 0 ? threads : 1;
  m->W = region(${weights}ull);
  m->S = region(${states}ull);
  m->A = region(${arena}ull);
  if (m->W && m->S && m->A) return m;
  smelt_free(m);
  return NULL;
}

void smelt_set_weights(smelt_model *m, int64_t offset, const float *data, int64_t count) {
  memcpy(m->W + offset, data, (size_t)count * sizeof(float));
}

void smelt_reset(smelt_model *m) {
  memset(m->S, 0, ${states}ull * sizeof(float));
}

/* One step: tokens[n] at positions pos..pos+n-1 (n <= ${program.maxTokens});
   logits[n, ${program.vocab}]. */
void smelt_forward(smelt_model *m, const int32_t *tokens, int n, int pos, float *logits) {
  float *W = m->W, *S = m->S, *A = m->A;
  #pragma omp parallel num_threads(m->team)
  {${profile ? '\n    double t_last = smelt_now();' : ''}
${calls.join('\n')}
  }
}
`;
}

export function renderC(program: KernelProgram, options: { profile?: boolean } = {}): string {
  return [
    `/* generated by smelt: ${program.kernels.length} kernels, ${program.calls.length} calls */`,
    prelude(lanesIn(program), program),
    '',
    ...program.kernels.map(renderKernel).flatMap((k) => [k, '']),
    api(program, options.profile ?? false),
  ].join('\n');
}
