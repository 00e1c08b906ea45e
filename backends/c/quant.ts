// C helpers behind the kernel IR's quantized expressions (`half`, `qdot`, `qvalue`), one set
// per vector width, rendered into the prelude of a program that uses them. Each is a
// `static inline` function, so GCC inlines it and shares the weight loads between the tokens
// of a register tile. Instructions by target (GCC builtins, no <immintrin.h>):
//
//   qdot  avx512 (VNNI)  vpdpbusd: unsigned × signed bytes, 4 per 32-bit lane. q8_0 weights
//                        are flipped to unsigned (q ^ 0x80 = q + 128) and 128·Σx is taken off;
//                        q4_0 nibbles are unsigned already, 8·Σx is taken off.
//         avx2           pmaddubsw + pmaddwd. q8_0: ggml's sign trick (|q| · sign(x, q), both
//                        within ±127 so the 16-bit pair sums cannot saturate); q4_0: nibbles ×
//                        x summed in 16 bits over a block (8 · 2 · 15 · 127 < 32768).
//         scalar         plain loops over the bytes.
//   half  vcvtph2ps (avx512, avx2: F16C); elsewhere the f16 bits moved into an f32 and
//         scaled by 2^112: exact for normal and subnormal halves (inf/NaN are not expected
//         in weights or scales).

/** The helper functions for vectors of `lanes` f32, for `target`. */
export function quantHelpers(lanes: number, target: string, vnni: boolean): string {
  const L = lanes;
  const lines = [
    `typedef int32_t i32x${L} __attribute__((vector_size(${L * 4}), aligned(4)));`,
    `typedef uint32_t u32x${L} __attribute__((vector_size(${L * 4}), aligned(4)));`,
    `typedef short i16x${L} __attribute__((vector_size(${L * 2}), aligned(2)));`,
    `static inline f32x${L} half${L}(const uint8_t *p) {`,
    `  i16x${L} h;`,
    '  memcpy(&h, p, sizeof h);',
    ...halfBody(L, target),
    '}',
    `static inline f32x${L} qval_q8_0_${L}(const uint8_t *w, int j) {`,
    `  u32x${L} v = *(const u32x${L} *)(w + (j >> 2) * ${4 * L});`,
    `  return __builtin_convertvector((i32x${L})(v << (24 - 8 * (j & 3))) >> 24, f32x${L});`,
    '}',
    `static inline f32x${L} qval_q4_0_${L}(const uint8_t *w, int j) {`,
    `  i32x${L} v = *(const i32x${L} *)(w + ((j & 15) >> 2) * ${4 * L});`,
    `  return __builtin_convertvector(((v >> (8 * (j & 3) + 4 * (j >> 4))) & 15) - 8, f32x${L});`,
    '}',
  ];
  if (target === 'avx512' && vnni && L === 16) lines.push(...vnniDots());
  else if (target === 'avx2' && L === 8) lines.push(...avx2Dots());
  else lines.push(...plainDots(L));
  return lines.join('\n');
}

/** The body of half<L>: vcvtph2ps where the target has it, else the bit moves. */
function halfBody(L: number, target: string): string[] {
  if (target === 'avx512' && L === 16) {
    return ['  return __builtin_ia32_vcvtph2ps512_mask(h, (f32x16){0}, (unsigned short)-1, 4);'];
  }
  if (target === 'avx2' && L === 8) return ['  return __builtin_ia32_vcvtph2ps256(h);'];
  return [
    `  u32x${L} b = __builtin_convertvector(h, u32x${L}) & 0xffffu;`,
    `  f32x${L} f = (f32x${L})((b & 0x7fffu) << 13) * 0x1p112f;`,
    `  return (f32x${L})((u32x${L})f | ((b & 0x8000u) << 16));`,
  ];
}

/** f16 bits → float, one value. */
export const HALF1 = `static inline float half1(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  uint32_t bits = ((uint32_t)(h & 0x7fffu)) << 13;
  float f;
  memcpy(&f, &bits, 4);
  f *= 0x1p112f;
  memcpy(&bits, &f, 4);
  bits |= ((uint32_t)(h & 0x8000u)) << 16;
  memcpy(&f, &bits, 4);
  return f;
}`;

function vnniDots(): string[] {
  return [
    'static inline i32x16 splat4(const int8_t *x) {',
    '  int32_t v;',
    '  memcpy(&v, x, 4);',
    '  return (i32x16){0} + v;',
    '}',
    'static inline i32x16 qdot_q8_0_16(const uint8_t *w, const int8_t *x, int xsum) {',
    '  i32x16 acc = {0};',
    '  for (int g = 0; g < 8; g++) {',
    '    i32x16 u = *(const i32x16 *)(w + 64 * g) ^ (int32_t)0x80808080u;',
    '    acc = __builtin_ia32_vpdpbusd_v16si(acc, u, splat4(x + 4 * g));',
    '  }',
    '  return acc - 128 * xsum;',
    '}',
    'static inline i32x16 qdot_q4_0_16(const uint8_t *w, const int8_t *x, int xsum) {',
    '  i32x16 acc = {0};',
    '  for (int g = 0; g < 4; g++) {',
    '    i32x16 v = *(const i32x16 *)(w + 64 * g);',
    '    acc = __builtin_ia32_vpdpbusd_v16si(acc, v & 0x0f0f0f0f, splat4(x + 4 * g));',
    '    acc = __builtin_ia32_vpdpbusd_v16si(acc, (v >> 4) & 0x0f0f0f0f, splat4(x + 16 + 4 * g));',
    '  }',
    '  return acc - 8 * xsum;',
    '}',
  ];
}

function avx2Dots(): string[] {
  return [
    'typedef char i8x32 __attribute__((vector_size(32)));',
    'typedef short i16x16 __attribute__((vector_size(32)));',
    'static inline i8x32 splat4(const int8_t *x) {',
    '  int32_t v;',
    '  memcpy(&v, x, 4);',
    '  return (i8x32)((i32x8){0} + v);',
    '}',
    'static inline i32x8 qdot_q8_0_8(const uint8_t *w, const int8_t *x, int xsum) {',
    '  i32x8 acc = {0};',
    '  (void)xsum;',
    '  for (int g = 0; g < 8; g++) {',
    '    i8x32 q = (i8x32)*(const i32x8 *)(w + 32 * g);',
    '    i16x16 p = __builtin_ia32_pmaddubsw256(__builtin_ia32_pabsb256(q),',
    '      __builtin_ia32_psignb256(splat4(x + 4 * g), q));',
    '    acc += __builtin_ia32_pmaddwd256(p, (i16x16){0} + 1);',
    '  }',
    '  return acc;',
    '}',
    'static inline i32x8 qdot_q4_0_8(const uint8_t *w, const int8_t *x, int xsum) {',
    '  i16x16 s = {0};',
    '  for (int g = 0; g < 4; g++) {',
    '    i32x8 v = *(const i32x8 *)(w + 32 * g);',
    '    s += __builtin_ia32_pmaddubsw256((i8x32)(v & 0x0f0f0f0f), splat4(x + 4 * g));',
    '    s += __builtin_ia32_pmaddubsw256((i8x32)((v >> 4) & 0x0f0f0f0f), splat4(x + 16 + 4 * g));',
    '  }',
    '  return __builtin_ia32_pmaddwd256(s, (i16x16){0} + 1) - 8 * xsum;',
    '}',
  ];
}

function plainDots(L: number): string[] {
  return [
    `static inline i32x${L} qdot_q8_0_${L}(const uint8_t *w, const int8_t *x, int xsum) {`,
    `  i32x${L} acc = {0};`,
    '  (void)xsum;',
    `  for (int g = 0; g < 8; g++) for (int l = 0; l < ${L}; l++) for (int j = 0; j < 4; j++)`,
    `    acc[l] += (int8_t)w[${4 * L} * g + 4 * l + j] * x[4 * g + j];`,
    '  return acc;',
    '}',
    `static inline i32x${L} qdot_q4_0_${L}(const uint8_t *w, const int8_t *x, int xsum) {`,
    `  i32x${L} acc = {0};`,
    '  (void)xsum;',
    `  for (int g = 0; g < 4; g++) for (int l = 0; l < ${L}; l++) for (int j = 0; j < 4; j++) {`,
    `    int b = w[${4 * L} * g + 4 * l + j];`,
    '    acc[l] += ((b & 15) - 8) * x[4 * g + j] + ((b >> 4) - 8) * x[16 + 4 * g + j];',
    '  }',
    '  return acc;',
    '}',
  ];
}
