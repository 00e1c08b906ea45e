// Vector math the kernels call inside the module: `exp4`, exp of four f32 lanes.
//
// The same steps as the C backend's `vexp` (backends/c/render.ts), so both backends compute
// one function: Cephes' expf polynomial. x is clamped to [−87.34, 88.02], n = round(x·log2 e)
// (f32x4.nearest), r = x − n·ln 2 in two parts, p = 1 + r + r²·P(r) with P of degree 5, and
// the result is p·2ⁿ with 2ⁿ built in the exponent bits; lanes below −87.34 (exp(−∞)
// included) are 0. Relative error ≲ 2e−7, and no call out to JavaScript.

import type { WasmModule } from './module.js';

const POLY = [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2,
  1.6666665459e-1, 5.0000001201e-1];

export function renderExp4(w: WasmModule): void {
  const [X, C, N, R, P] = [0, 1, 2, 3, 4]; // the argument, then locals
  const get = (i: number) => w.get(i, 'v128');
  const splat = (value: number) => w.convert(w.f32(value), 'f32', 'v128');
  const mul = (a: number, b: number) => w.arith('mul', 'v128', a, b);
  const add = (a: number, b: number) => w.arith('add', 'v128', a, b);
  const [low, high] = [-87.336544, 88.02];
  let p = splat(POLY[0]!);
  for (const c of POLY.slice(1)) p = add(mul(p, get(R)), splat(c));
  w.addFunction('exp4', ['v128'], ['v128', 'v128', 'v128', 'v128'], w.block([
    w.set(C, w.arith('min', 'v128', w.arith('max', 'v128', get(X), splat(low)), splat(high))),
    w.set(N, w.nearest(mul(get(C), splat(1.44269504)))),
    w.set(R, add(w.arith('sub', 'v128', get(C), mul(get(N), splat(0.693359375))),
      mul(get(N), splat(2.12194440e-4)))),
    w.set(P, add(add(mul(p, mul(get(R), get(R))), get(R)), splat(1))),
    w.keepWhere(w.vectorGe(get(X), splat(low)), mul(get(P), w.pow2(get(N)))),
  ], null, 'v128'), 'v128');
}
