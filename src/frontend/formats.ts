// Weight-name maps: where each spec weight lives in a GGUF, safetensors or llama2.c file,
// and which file metadata gives each hyperparameter.
//
// Names may contain `{layer}`, replaced by the layer index. llama2.c files hold no names,
// only an order, so that map is a list: `layers.<name>` stands for that weight of every
// layer stacked, `{ skip: [dims] }` for f32 data to step over. This file reads the maps;
// `format-check.ts` checks them against the spec's declarations.

import type { Scalar, YAMLMap } from 'yaml';
import type { SourceLocation } from '../../ir/diagnostics.js';
import type { Expr } from './expr.js';
import { scalarExpr } from './spec.js';
import type { SpecSource, YamlNode } from './source.js';
import { isMap } from './source.js';

/** A llama2.c header is 7 int32: dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq. */
const LLAMA2C_HEADER_FIELDS = 7;

export interface Mapped {
  tensor: string;
  loc: SourceLocation;
}

export interface NameMap {
  weights: Map<string, Mapped>;
  layerWeights: Map<string, Mapped>;
  /**
   * Layer weights stored in Hugging Face's rotate-half row order, with the number of heads
   * their rows split into (an expression): the loader puts the rows back in adjacent pairs.
   */
  permuteRope: Map<string, { heads: Expr; loc: SourceLocation }>;
  /**
   * Weights stored transposed ([in, out], GPT-2's Conv1D): the loader transposes them to the
   * spec's [out, in] and a writer back. Model and layer weights alike, by declared name.
   */
  transpose: Map<string, SourceLocation>;
  /**
   * Weights the file stores plus a constant (llama.cpp's Gemma files hold 1 + the norm
   * gain): the loader subtracts it, a writer adds it.
   */
  offset: Map<string, { value: Expr; loc: SourceLocation }>;
  /** The map's key (`gguf:`), and each section's key (the map's when it is absent). */
  loc: SourceLocation;
  sections: { weights: SourceLocation; layer_weights: SourceLocation };
}

/**
 * Where a parameter comes from in a GGUF: the metadata value at `key`, the length of the
 * array there (`{ length_of: key }`), or whether the file lacks the tensor named `key`
 * (`{ absent: output.weight }`: llama.cpp ties the classifier when it is not stored).
 */
export interface ParamSource {
  key: string;
  kind: 'value' | 'length' | 'absent';
  loc: SourceLocation;
  /** The param's name in the map. */
  paramLoc: SourceLocation;
}

export interface GgufMap extends NameMap {
  params: Map<string, ParamSource>;
}

export type OrderEntry =
  | { kind: 'weight'; name: string; stacked: boolean; loc: SourceLocation }
  | { kind: 'skip'; shape: SkipDim[]; loc: SourceLocation };

export interface SkipDim {
  text: string;
  expr: Expr;
  loc: SourceLocation;
}

export interface Llama2cMap {
  header: { name: string; loc: SourceLocation }[];
  legacy: OrderEntry[];
  v1: OrderEntry[];
  /** The map's key (`llama2c:`), and the keys of its fields. */
  loc: SourceLocation;
  keys: { legacy: SourceLocation; v1: SourceLocation };
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

/** Where `key` of `map` is written, or `fallback` when it is absent. */
function keyLoc(src: SpecSource, map: YAMLMap<Scalar, YamlNode>, key: string,
  fallback: SourceLocation): SourceLocation {
  const node = src.keyNode(map, key);
  return node ? src.where(node) : fallback;
}

function loadNameMap(src: SpecSource, node: YamlNode, what: string, extra: string[],
  loc: SourceLocation): NameMap {
  const map = src.map(node, what);
  src.onlyKeys(map, ['weights', 'layer_weights', 'permute_rope', 'transpose', 'offset',
    ...extra], what);
  const offset = new Map<string, { value: Expr; loc: SourceLocation }>();
  const offsetNode = src.optional(map, 'offset');
  if (offsetNode !== undefined) {
    for (const { key, keyNode, value } of src.entries(src.map(offsetNode, `${what}.offset`))) {
      offset.set(key, { value: scalarExpr(src, value, `${what}.offset.${key}`),
        loc: src.where(keyNode) });
    }
  }
  const transpose = new Map<string, SourceLocation>();
  const transposeNode = src.optional(map, 'transpose');
  if (transposeNode !== undefined) {
    for (const item of src.seq(transposeNode, `${what}.transpose`).items) {
      transpose.set(src.string(item, `an entry of ${what}.transpose`), src.where(item));
    }
  }
  const permuteRope = new Map<string, { heads: Expr; loc: SourceLocation }>();
  const permuteNode = src.optional(map, 'permute_rope');
  if (permuteNode !== undefined) {
    const entries = src.entries(src.map(permuteNode, `${what}.permute_rope`));
    for (const { key, keyNode, value } of entries) {
      permuteRope.set(key, { heads: scalarExpr(src, value, `${what}.permute_rope.${key}`),
        loc: src.where(keyNode) });
    }
  }
  return {
    weights: loadNames(src, src.optional(map, 'weights'), `${what}.weights`),
    layerWeights: loadNames(src, src.optional(map, 'layer_weights'), `${what}.layer_weights`),
    permuteRope,
    transpose,
    offset,
    loc,
    sections: {
      weights: keyLoc(src, map, 'weights', loc),
      layer_weights: keyLoc(src, map, 'layer_weights', loc),
    },
  };
}

function loadParamSource(src: SpecSource, key: string, keyNode: YamlNode,
  value: YamlNode): ParamSource {
  const what = `\`formats.gguf.params.${key}\``;
  const paramLoc = src.where(keyNode);
  const loc = src.where(value);
  if (!isMap(value)) return { key: src.string(value, what), kind: 'value', loc, paramLoc };
  const m = src.map(value, what);
  src.onlyKeys(m, ['length_of', 'absent'], what);
  const [field] = src.entries(m);
  if (!field || src.entries(m).length !== 1) {
    throw src.error('SPEC102', `${what} must be a key, \`{ length_of: key }\` or ` +
      '`{ absent: tensor }`', value);
  }
  const kind = field.key === 'length_of' ? 'length' : 'absent';
  return { key: src.string(field.value, what), kind, loc, paramLoc };
}

function loadGguf(src: SpecSource, node: YamlNode, loc: SourceLocation): GgufMap {
  const names = loadNameMap(src, node, '`formats.gguf`', ['params'], loc);
  const params = new Map<string, ParamSource>();
  const paramsNode = src.optional(src.map(node, '`formats.gguf`'), 'params');
  if (paramsNode !== undefined) {
    for (const { key, keyNode, value } of src.entries(src.map(paramsNode,
      '`formats.gguf.params`'))) {
      params.set(key, loadParamSource(src, key, keyNode, value));
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

function loadLlama2c(src: SpecSource, node: YamlNode, loc: SourceLocation): Llama2cMap {
  const what = '`formats.llama2c`';
  const map = src.map(node, what);
  src.onlyKeys(map, ['header', 'legacy', 'v1'], what);
  const headerNode = src.seq(src.field(map, 'header', what), `${what}.header`);
  const header = headerNode.items
    .map((item) => ({ name: src.string(item, 'a header field'), loc: src.where(item) }));
  if (header.length !== LLAMA2C_HEADER_FIELDS) {
    throw src.error('SPEC102', `\`formats.llama2c.header\` must name the ` +
      `${LLAMA2C_HEADER_FIELDS} int32 ` +
      `fields of the header, got ${header.length}`, headerNode);
  }
  return {
    header,
    legacy: loadOrder(src, src.field(map, 'legacy', what), `${what}.legacy`),
    v1: loadOrder(src, src.field(map, 'v1', what), `${what}.v1`),
    loc,
    keys: {
      legacy: keyLoc(src, map, 'legacy', loc),
      v1: keyLoc(src, map, 'v1', loc),
    },
  };
}

export function loadFormats(src: SpecSource, node: YamlNode | undefined): FormatMaps {
  if (node === undefined) return {};
  const map = src.map(node, '`formats`');
  src.onlyKeys(map, ['gguf', 'safetensors', 'llama2c'], '`formats`');
  const formats: FormatMaps = {};
  const at = (key: string) => src.where(src.keyNode(map, key));
  const gguf = src.optional(map, 'gguf');
  const st = src.optional(map, 'safetensors');
  const l2c = src.optional(map, 'llama2c');
  if (gguf !== undefined) formats.gguf = loadGguf(src, gguf, at('gguf'));
  if (st !== undefined) {
    formats.safetensors = loadNameMap(src, st, '`formats.safetensors`', [], at('safetensors'));
  }
  if (l2c !== undefined) formats.llama2c = loadLlama2c(src, l2c, at('llama2c'));
  return formats;
}
