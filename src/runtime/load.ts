// Binds a spec to weights: reads a checkpoint through the spec's weight-name maps (or
// makes seeded random weights), checks every tensor's shape against the graph, and
// returns f32 data for every weight leaf.
//
// Hyperparameters: a model file's numbers win; numbers the model file leaves unset come
// from the checkpoint (GGUF metadata, llama2.c header). A checkpoint whose header
// disagrees with the model file on a number it stores is WEIGHT307, naming both values;
// so is a `--param` that contradicts a number the weights are stored for, or a named-tensor
// file with layers past the layer count (see checkpoint-params.ts).

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { CompileInput } from '../../backends/index.js';
import type { EncodedWeight } from '../../backends/types.js';
import type { GivenParam, LoadedSpec, ModelGraph, WeightSlot } from '../frontend/index.js';
import { specGraph } from '../frontend/index.js';
import { evalDim, evalExpr } from '../frontend/expr.js';
import type { Llama2cMap, NameMap, ParamSource } from '../frontend/formats.js';
import { checkedBytes, tensorToF32 } from './weights/dequant.js';
import { halvesToPairs, transpose } from './weights/permute.js';
import { layoutLlama2c } from './weights/llama2c.js';
import type { Llama2cHeader } from './weights/llama2c.js';
import { readWeightFile } from './weights/open.js';
import type { MetaValue, WeightFile } from './weights/types.js';
import { randomWeights } from './random.js';
import { checkLayerCount, checkOverrides } from './checkpoint-params.js';

export interface LoadedModel {
  model: ModelGraph;
  /** f32 data of every weight leaf, by leaf name. */
  weights: Map<string, Float32Array>;
  /** The file's bytes of weights it stores as f16, q8_0 or q4_0, by leaf name. */
  encoded?: Map<string, EncodedWeight>;
  /** The GGUF/safetensors file, when the weights came from one (it may carry a vocabulary). */
  file?: WeightFile;
}

/** What a backend compiles: the graph, its states and the weight data. */
export function compileInput(loaded: LoadedModel): CompileInput {
  return { graph: loaded.model.graph, states: loaded.model.states, weights: loaded.weights,
    ...(loaded.encoded ? { encoded: loaded.encoded } : {}) };
}

export type WeightSource = { path: string } | { seed: number };

function formatMap<K extends 'gguf' | 'safetensors' | 'llama2c'>(spec: LoadedSpec, format: K,
  path: string) {
  const map = spec.arch.formats[format];
  if (!map) {
    throw new SmeltError('SPEC206', `${path} is a ${format} file, but architecture ` +
      `${spec.arch.name} (${spec.arch.file}) has no \`formats.${format}\` map`);
  }
  return map as NonNullable<LoadedSpec['arch']['formats'][K]>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function shapeMismatch(slot: WeightSlot, tensor: string, path: string, got: readonly number[]) {
  return new SmeltError('WEIGHT304', `weight \`${slot.name}\` (tensor ${tensor} in ${path}) has ` +
    `shape [${got.join(', ')}], the spec needs [${slot.shape.join(', ')}]`, slot.decl.loc);
}

function tensorName(map: NameMap, slot: WeightSlot): string {
  const names = slot.layer === undefined ? map.weights : map.layerWeights;
  return names.get(slot.decl.name)!.tensor.replaceAll('{layer}', String(slot.layer ?? ''));
}

/**
 * Reads every weight of `model` from a named-tensor file (GGUF or safetensors), as f32, and
 * into `encoded` the bytes of those stored as f16 / q8_0 / q4_0 (unpermuted).
 */
function readNamed(model: ModelGraph, file: WeightFile, map: NameMap,
  encoded = new Map<string, EncodedWeight>()): Map<string, Float32Array> {
  const weights = new Map<string, Float32Array>();
  for (const slot of model.slots) {
    const name = tensorName(map, slot);
    const data = name.includes('{expert}') ? readExperts(model, file, map, slot, name)
      : readTensor(model, file, map, slot, name, slot.shape);
    const permute = slot.layer === undefined ? undefined : map.permuteRope.get(slot.decl.name);
    // the stored bytes serve as they are only when nothing reorders or shifts the values
    const entry = file.tensors.get(name);
    const asStored = permute === undefined && !name.includes('{expert}') &&
      !map.transpose.has(slot.decl.name) && !map.offset.has(slot.decl.name);
    if (entry && asStored && ['f16', 'q8_0', 'q4_0'].includes(entry.dtype)) {
      encoded.set(slot.name, { dtype: entry.dtype, bytes: checkedBytes(file, entry) });
    }
    weights.set(slot.name, permute === undefined ? data : halvesToPairs(data, slot.shape[0]!,
      slot.shape[1]!, evalDim(permute.heads, model.env, 'permute_rope heads')));
  }
  return weights;
}

/** One expert per tensor (`{expert}` in the name), stacked on the first axis. */
function readExperts(model: ModelGraph, file: WeightFile, map: NameMap, slot: WeightSlot,
  name: string): Float32Array {
  const [experts, ...shape] = slot.shape;
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(experts! * size);
  for (let e = 0; e < experts!; e++) {
    const one = readTensor(model, file, map, slot, name.replaceAll('{expert}', String(e)), shape);
    data.set(one, e * size);
  }
  return data;
}

/** The f32 data of tensor `name`, which must have `shape` (reversed if transposed). */
function readTensor(model: ModelGraph, file: WeightFile, map: NameMap, slot: WeightSlot,
  name: string, shape: number[]): Float32Array {
  const entry = file.tensors.get(name);
  if (!entry) {
    throw new SmeltError('WEIGHT306', `${file.path} has no tensor ${name} ` +
      `(weight \`${slot.name}\`, shape [${shape.join(', ')}])`, slot.decl.loc);
  }
  const transposed = map.transpose.has(slot.decl.name);
  const want = transposed ? [...shape].reverse() : shape;
  if (!sameShape(entry.shape, want)) {
    throw shapeMismatch(slot, name, file.path, transposed ? [...entry.shape].reverse()
      : entry.shape);
  }
  const stored = tensorToF32(file, entry);
  const data = transposed ? transpose(stored, want[0]!, want[1] ?? 1) : stored;
  const offset = map.offset.get(slot.decl.name);
  if (offset) {
    const by = evalExpr(offset.value, model.env) as number;
    for (let i = 0; i < data.length; i++) data[i] = data[i]! - by;
  }
  return data;
}

function metaNumber(value: MetaValue | undefined): number | boolean | undefined {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value) || typeof value === 'string') return undefined;
  return value;
}

/**
 * Hyperparameters the GGUF metadata gives, for those the model file leaves unset; a
 * `--param` that contradicts one the weights are stored for is WEIGHT307.
 */
function ggufParams(spec: LoadedSpec, file: WeightFile): Map<string, GivenParam> {
  const given = new Map<string, GivenParam>();
  const stored = new Map<string, number | boolean>();
  for (const [param, source] of formatMap(spec, 'gguf', file.path).params) {
    const value = ggufParam(file, source);
    if (value === undefined) continue;
    stored.set(param, value);
    if (!spec.model?.params.has(param)) given.set(param, { value });
  }
  checkOverrides(spec, stored, `GGUF metadata of ${file.path}`);
  return given;
}

function ggufParam(file: WeightFile, source: ParamSource): number | boolean | undefined {
  const raw = file.metadata.get(source.key);
  switch (source.kind) {
    case 'value':
      return metaNumber(raw);
    case 'length':
      return Array.isArray(raw) ? raw.length : undefined;
    case 'absent':
      return !file.tensors.has(source.key);
  }
}

function llama2cParams(spec: LoadedSpec, map: Llama2cMap, header: Llama2cHeader, path: string) {
  const values = [header.dim, header.hidden_dim, header.n_layers, header.n_heads,
    header.n_kv_heads, header.vocab_size, header.seq_len];
  const given = new Map<string, GivenParam>();
  const fromFile: [string, number | boolean, SourceLocation][] =
    map.header.map((field, i) => [field.name, values[i]!, field.loc]);
  if (spec.arch.params.some((p) => p.name === 'tied_output')) {
    fromFile.push(['tied_output', header.shared_classifier, map.loc]);
  }
  checkOverrides(spec, new Map(fromFile.map(([param, value]) => [param, value])), path);
  for (const [param, value] of fromFile) {
    const set = spec.model?.params.get(param);
    if (set && set.value !== value) {
      throw new SmeltError('WEIGHT307', `${path} has ${param} = ${value}, but the model file ` +
        `sets ${param} = ${set.value}`, set.loc);
    }
    given.set(param, { value });
  }
  return given;
}

/**
 * Lays out a llama2.c file in the spec's tensor order and splits stacked layer weights. The
 * skipped tables are sized by the header's numbers (`given`), which a `--param seq_len` for
 * the KV cache does not change.
 */
function readLlama2c(spec: LoadedSpec, model: ModelGraph, map: Llama2cMap, path: string,
  bytes: Uint8Array, header: Llama2cHeader, given: Map<string, GivenParam>):
  Map<string, Float32Array> {
  const env = new Map(model.env);
  for (const [param, { value }] of given) env.set(param, value);
  for (const d of spec.arch.derived) env.set(d.name, evalExpr(d.expr, env));
  const nLayers = new Set(model.slots.map((w) => w.layer ?? 0)).size;
  const order = header.version === 0 ? map.legacy : map.v1;
  const entries: { name: string; shape: number[] }[] = [];
  for (const [i, e] of order.entries()) {
    if (e.kind === 'skip') {
      entries.push({ name: `skip:${i}`, shape: e.shape.map((d) => evalDim(d.expr, env, d.text)) });
      continue;
    }
    const slot = model.slots.find((w) => w.decl.name === e.name);
    if (!slot) continue; // tied to another weight: not stored
    entries.push({ name: e.name, shape: e.stacked ? [nLayers, ...slot.shape] : slot.shape });
  }
  const file = layoutLlama2c(path, bytes, header, entries);
  const weights = new Map<string, Float32Array>();
  for (const slot of model.slots) {
    const data = tensorToF32(file, file.tensors.get(slot.decl.name)!);
    if (slot.layer === undefined) {
      weights.set(slot.name, data);
    } else {
      const size = data.length / nLayers;
      weights.set(slot.name, data.slice(slot.layer * size, (slot.layer + 1) * size));
    }
  }
  return weights;
}

export function loadModel(spec: LoadedSpec, source: WeightSource): LoadedModel {
  if ('seed' in source) {
    const model = specGraph(spec);
    return { model, weights: randomWeights(model, source.seed) };
  }
  const read = readWeightFile(source.path);
  switch (read.kind) {
    case 'gguf': {
      const model = specGraph(spec, ggufParams(spec, read.file), `GGUF metadata of ${source.path}`);
      const encoded = new Map<string, EncodedWeight>();
      const map = formatMap(spec, 'gguf', source.path);
      checkLayerCount(model, read.file, map);
      const weights = readNamed(model, read.file, map, encoded);
      return { model, weights, file: read.file, ...(encoded.size ? { encoded } : {}) };
    }
    case 'safetensors': {
      const model = specGraph(spec);
      const map = formatMap(spec, 'safetensors', source.path);
      checkLayerCount(model, read.file, map);
      return { model, weights: readNamed(model, read.file, map), file: read.file };
    }
    case 'llama2c': {
      const map = formatMap(spec, 'llama2c', source.path);
      const given = llama2cParams(spec, map, read.header, source.path);
      const model = specGraph(spec, given, `llama2.c header of ${source.path}`);
      const weights = readLlama2c(spec, model, map, source.path, read.bytes, read.header, given);
      return { model, weights };
    }
  }
}
