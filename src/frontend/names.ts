// Declared names: each is an identifier and means one thing.
//
// Params and derived values share one namespace (expressions); inputs, model weights,
// layer weights and layer states share another (statement operands and IR leaf names).
// `checkDeclarations` runs when the spec loads, before any numbers are known:
//   - a name is an identifier (SPEC102), so `layers.<i>.<name>` leaf names cannot collide;
//   - a second declaration of a name is SPEC205 at the second, naming the first;
//   - `tied_to` names a weight declared before it in the same section (SPEC205);
//   - no statement assigns to an input, weight or state (SPEC205).
// After it, name lookup in `build.ts` never depends on which scope it tries first.

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import { article } from './source.js';
import type { ArchSpec, WeightDecl } from './spec.js';

interface Declared {
  kind: string;
  name: string;
  loc: SourceLocation;
}

const IDENT = /^[A-Za-z_]\w*$/;

const a = (kind: string) => `${article(kind)} ${kind}`;

const declared = (kind: string) => (d: { name: string; loc: SourceLocation }): Declared =>
  ({ kind, name: d.name, loc: d.loc });

/** Every name is an identifier and appears once in `decls`; the later one in the file is blamed. */
function unique(decls: Declared[]): Map<string, Declared> {
  const seen = new Map<string, Declared>();
  const inFileOrder = [...decls].sort((a, b) => a.loc.line - b.loc.line || a.loc.col - b.loc.col);
  for (const d of inFileOrder) {
    if (!IDENT.test(d.name)) {
      throw new SmeltError('SPEC102',
        `${d.kind} name \`${d.name}\` must be an identifier (letters, digits and \`_\`)`, d.loc);
    }
    const first = seen.get(d.name);
    if (first) {
      throw new SmeltError('SPEC205', `\`${d.name}\` is declared twice: as ${a(first.kind)} ` +
        `(line ${first.loc.line}) and as ${a(d.kind)}`, d.loc);
    }
    seen.set(d.name, d);
  }
  return seen;
}

/** A tie names a weight declared earlier in the same section. */
function checkTies(decls: WeightDecl[], section: string): void {
  decls.forEach((decl, i) => {
    if (!decl.tiedTo) return;
    if (!decls.slice(0, i).some((d) => d.name === decl.tiedTo!.name)) {
      throw new SmeltError('SPEC205', `\`${decl.name}\` is tied to \`${decl.tiedTo.name}\`, ` +
        `which is not a weight declared before it in \`${section}\``, decl.tiedTo.loc);
    }
  });
}

export function checkDeclarations(arch: ArchSpec): void {
  unique([...arch.params.map(declared('param')), ...arch.derived.map(declared('derived value'))]);
  const tensors = unique([
    ...arch.inputs.map(declared('input')),
    ...arch.weights.map(declared('weight')),
    ...arch.layerWeights.map(declared('layer weight')),
    ...arch.layerStates.map(declared('layer state')),
  ]);
  checkTies(arch.weights, 'weights');
  checkTies(arch.layerWeights, 'layer_weights');
  for (const stmt of [...arch.prologue, ...arch.layer, ...arch.epilogue]) {
    const first = tensors.get(stmt.out.name);
    if (first) {
      throw new SmeltError('SPEC205', `\`${stmt.out.name}\` is ${a(first.kind)} ` +
        `(line ${first.loc.line}) and cannot be assigned`, stmt.out.loc);
    }
  }
}

/** Levenshtein distance, for ranking names by how close they are to a misspelling. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const swap = row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      next.push(Math.min(row[j]! + 1, next[j - 1]! + 1, swap));
    }
    row = next;
  }
  return row[b.length]!;
}

/** Up to `max` of `names`, the closest to `name` when there are more, listed sorted. */
export function nearest(name: string, names: string[], max = 12): string {
  const all = [...new Set(names)].sort();
  if (all.length === 0) return 'nothing';
  const ranked = all.length <= max ? all
    : [...all].sort((a, b) => distance(name, a) - distance(name, b)).slice(0, max).sort();
  const more = all.length - ranked.length;
  return ranked.join(', ') + (more > 0 ? `, and ${more} more` : '');
}
