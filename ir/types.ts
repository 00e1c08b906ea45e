// Tensor types of the graph IR: a dtype and a shape whose dims may be symbolic.
//
// Shapes are written outer → inner (row-major). A dim is either a number or the name of a
// dimension that is only known per step; the only one today is `seq`, the number of tokens
// a forward step consumes (1 for decode, the chunk length for prefill). The positions a
// step attends over (`ctx` = pos + seq) live in the KV-cache states, never in a shape.

export type DType = 'f32' | 'i32';

export type SymbolicDim = 'seq';
export type Dim = number | SymbolicDim;
export type Shape = readonly Dim[];

export interface TensorType {
  dtype: DType;
  shape: Shape;
}

export const SYMBOLIC_DIMS: readonly SymbolicDim[] = ['seq'];

export function isSymbolicDim(name: string): name is SymbolicDim {
  return (SYMBOLIC_DIMS as readonly string[]).includes(name);
}

export function dimEquals(a: Dim, b: Dim): boolean {
  return a === b;
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEquals(d, b[i]!));
}

/** `f32[seq, 64]` — the printer's notation, also used in every diagnostic. */
export function formatType(t: TensorType): string {
  return `${t.dtype}[${t.shape.join(', ')}]`;
}

export function formatShape(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Number of elements once every symbolic dim is bound. */
export function numel(shape: Shape, bindings: Record<SymbolicDim, number>): number {
  return shape.reduce<number>((n, d) => n * (typeof d === 'number' ? d : bindings[d]), 1);
}
