// Vector math the kernels call inside the module: `exp4`, exp of four f32 lanes.
//
// VECTOR_EXP (ir/kernel.ts): the same steps as the C backend's `vexp` (backends/c/render.ts),
// so both backends compute one function, Cephes' expf polynomial. The rounding is
// f32x4.nearest and 2ⁿ is built in the exponent bits; lanes below the clamp (exp(−∞)
// included) are 0. Relative error ≲ 2e−7, and no call out to JavaScript.

import { VECTOR_EXP } from '../../ir/kernel.js';
import type { WasmModule } from './module.js';


export function renderExp4(w: WasmModule): void {
  const [X, C, N, R, P] = [0, 1, 2, 3, 4]; // the argument, then locals
  const get = (i: number) => w.get(i, 'v128');
  const splat = (value: number) => w.convert(w.f32(value), 'f32', 'v128');
  const mul = (a: number, b: number) => w.arith('mul', 'v128', a, b);
  const add = (a: number, b: number) => w.arith('add', 'v128', a, b);
  const { low, high, log2e, ln2Hi, ln2Lo, poly } = VECTOR_EXP;
  let p = splat(poly[0]);
  for (const c of poly.slice(1)) p = add(mul(p, get(R)), splat(c));
  w.addFunction('exp4', ['v128'], ['v128', 'v128', 'v128', 'v128'], w.block([
    w.set(C, w.arith('min', 'v128', w.arith('max', 'v128', get(X), splat(low)), splat(high))),
    w.set(N, w.nearest(mul(get(C), splat(log2e)))),
    w.set(R, add(w.arith('sub', 'v128', get(C), mul(get(N), splat(ln2Hi))),
      mul(get(N), splat(ln2Lo)))),
    w.set(P, add(add(mul(p, mul(get(R), get(R))), get(R)), splat(1))),
    w.keepWhere(w.vectorGe(get(X), splat(low)), mul(get(P), w.pow2(get(N)))),
  ], null, 'v128'), 'v128');
}
