// Weight-name maps: where each spec weight lives in a GGUF, safetensors or llama2.c file,
// and which file metadata gives each hyperparameter.
//
// Names may contain `{layer}`, replaced by the layer index. llama2.c files hold no names,
// only an order, so that map is a list: `layers.<name>` stands for that weight of every
// layer stacked, `{ skip: [dims] }` for f32 data to step over. `checkFormats` makes sure
// every map covers every weight the spec declares (SPEC206) and names nothing else.

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Expr } from './expr.js';
import type { WeightDecl } from './spec.js';
import { scalarExpr } from './spec.js';
import type { SpecSource, YamlNode } from './source.js';
import { isMap } from './source.js';

export interface Mapped {
  tensor: string;
  loc: SourceLocation;
}

export interface NameMap {
  weights: Map<string, Mapped>;
  layerWeights: Map<string, Mapped>;
  loc: SourceLocation;
}

/** A parameter read from metadata: the value at `key`, or the length of the array there. */
export interface ParamSource {
  key: string;
  lengthOf: boolean;
  loc: SourceLocation;
}

export interface GgufMap extends NameMap {
  params: Map<string, ParamSource>;
}

export type OrderEntry =
  | { kind: 'weight'; name: string; stacked: boolean; loc: SourceLocation }
  | { kind: 'skip'; shape: { text: string; expr: Expr; loc: SourceLocation }[]; loc: SourceLocation };

export interface Llama2cMap {
  header: { name: string; loc: SourceLocation }[];
  legacy: OrderEntry[];
  v1: OrderEntry[];
  loc: SourceLocation;
}

export interface FormatMaps {
  gguf?: GgufMap;
  safetensors?: NameMap;
  llama2c?: Llama2cMap;
}

function loadNames(src: SpecSource, node: YamlNode | undefined, what: string) {
  const names = new Map<string, Mapped>();
  if (node === undefined) return names;
  for (const { key, value } of src.entries(src.map(node, what))) {
    names.set(key, { tensor: src.string(value, `${what}.${key}`), loc: src.where(value) });
  }
  return names;
}

function loadNameMap(src: SpecSource, node: YamlNode, what: string, extra: string[]): NameMap {
  const map = src.map(node, what);
  src.onlyKeys(map, ['weights', 'layer_weights', ...extra], what);
  return {
    weights: loadNames(src, src.optional(map, 'weights'), `${what}.weights`),
    layerWeights: loadNames(src, src.optional(map, 'layer_weights'), `${what}.layer_weights`),
    loc: src.where(node),
  };
}

function loadGguf(src: SpecSource, node: YamlNode): GgufMap {
  const names = loadNameMap(src, node, '`formats.gguf`', ['params']);
  const params = new Map<string, ParamSource>();
  const paramsNode = src.optional(src.map(node, '`formats.gguf`'), 'params');
  if (paramsNode !== undefined) {
    for (const { key, value } of src.entries(src.map(paramsNode, '`formats.gguf.params`'))) {
      const what = `\`formats.gguf.params.${key}\``;
      if (isMap(value)) {
        const m = src.map(value, what);
        src.onlyKeys(m, ['length_of'], what);
        const lengthOf = src.string(src.field(m, 'length_of', what), what);
        params.set(key, { key: lengthOf, lengthOf: true, loc: src.where(value) });
      } else {
        params.set(key, { key: src.string(value, what), lengthOf: false, loc: src.where(value) });
      }
    }
  }
  return { ...names, params };
}

function loadOrder(src: SpecSource, node: YamlNode | undefined, what: string): OrderEntry[] {
  return src.seq(node, what).items.map((item): OrderEntry => {
    const loc = src.where(item);
    if (isMap(item)) {
      const m = src.map(item, `an entry of ${what}`);
      src.onlyKeys(m, ['skip'], `an entry of ${what}`);
      const dims = src.seq(src.field(m, 'skip', what), `skip in ${what}`).items;
      const shape = dims.map((d) => ({
        text: String(src.scalar(d, 'a dim')), expr: scalarExpr(src, d, 'a dim'), loc: src.where(d),
      }));
      return { kind: 'skip', shape, loc };
    }
    const text = src.string(item, `an entry of ${what}`);
    const stacked = text.startsWith('layers.');
    return { kind: 'weight', name: stacked ? text.slice(7) : text, stacked, loc };
  });
}

function loadLlama2c(src: SpecSource, node: YamlNode): Llama2cMap {
  const what = '`formats.llama2c`';
  const map = src.map(node, what);
  src.onlyKeys(map, ['header', 'legacy', 'v1'], what);
  const header = src.seq(src.field(map, 'header', what), `${what}.header`).items
    .map((item) => ({ name: src.string(item, 'a header field'), loc: src.where(item) }));
  return {
    header,
    legacy: loadOrder(src, src.field(map, 'legacy', what), `${what}.legacy`),
    v1: loadOrder(src, src.field(map, 'v1', what), `${what}.v1`),
    loc: src.where(node),
  };
}

export function loadFormats(src: SpecSource, node: YamlNode | undefined): FormatMaps {
  if (node === undefined) return {};
  const map = src.map(node, '`formats`');
  src.onlyKeys(map, ['gguf', 'safetensors', 'llama2c'], '`formats`');
  const formats: FormatMaps = {};
  const gguf = src.optional(map, 'gguf');
  const st = src.optional(map, 'safetensors');
  const l2c = src.optional(map, 'llama2c');
  if (gguf !== undefined) formats.gguf = loadGguf(src, gguf);
  if (st !== undefined) formats.safetensors = loadNameMap(src, st, '`formats.safetensors`', []);
  if (l2c !== undefined) formats.llama2c = loadLlama2c(src, l2c);
  return formats;
}

function checkNames(map: NameMap, format: string, weights: WeightDecl[], layer: WeightDecl[]) {
  const pairs: [Map<string, Mapped>, WeightDecl[], string][] =
    [[map.weights, weights, 'weights'], [map.layerWeights, layer, 'layer_weights']];
  for (const [names, decls, section] of pairs) {
    for (const decl of decls) {
      if (!names.has(decl.name)) {
        throw new SmeltError('SPEC206',
          `\`formats.${format}.${section}\` has no entry for weight \`${decl.name}\``, map.loc);
      }
    }
    for (const [name, mapped] of names) {
      if (!decls.some((d) => d.name === name)) {
        throw new SmeltError('SPEC205',
          `\`formats.${format}.${section}\` maps \`${name}\`, which is not a declared ${section} entry`,
          mapped.loc);
      }
    }
  }
}

function checkOrder(order: OrderEntry[], form: string, weights: WeightDecl[],
  layer: WeightDecl[], loc: SourceLocation) {
  for (const entry of order) {
    if (entry.kind !== 'weight') continue;
    const decls = entry.stacked ? layer : weights;
    if (!decls.some((d) => d.name === entry.name)) {
      const kind = entry.stacked ? 'layer weight' : 'model weight';
      throw new SmeltError('SPEC205',
        `\`formats.llama2c.${form}\` lists \`${entry.name}\`, which is not a declared ${kind}`,
        entry.loc);
    }
  }
  for (const [decls, stacked] of [[weights, false], [layer, true]] as const) {
    for (const decl of decls) {
      if (!order.some((e) => e.kind === 'weight' && e.name === decl.name && e.stacked === stacked)) {
        const name = stacked ? `layers.${decl.name}` : decl.name;
        throw new SmeltError('SPEC206',
          `\`formats.llama2c.${form}\` does not list weight \`${name}\``, loc);
      }
    }
  }
}

/** Every map covers exactly the declared weights (SPEC206 for a gap, SPEC205 for a stray). */
export function checkFormats(formats: FormatMaps, weights: WeightDecl[], layer: WeightDecl[]) {
  if (formats.gguf) checkNames(formats.gguf, 'gguf', weights, layer);
  if (formats.safetensors) checkNames(formats.safetensors, 'safetensors', weights, layer);
  if (formats.llama2c) {
    checkOrder(formats.llama2c.legacy, 'legacy', weights, layer, formats.llama2c.loc);
    checkOrder(formats.llama2c.v1, 'v1', weights, layer, formats.llama2c.loc);
  }
}
