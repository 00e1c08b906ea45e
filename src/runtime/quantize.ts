// Writes a loaded model as a GGUF v3 file whose weights are stored as a target dtype,
// choosing each tensor's dtype the way llama.cpp's llama-quantize does for that target.
//
// Per tensor (GGUF name, outer → inner shape), in this order:
//   target f32                          → f32
//   1-D (norm gains)                    → f32
//   quantized target, `output.weight`   → q8_0 (llama.cpp: Q8_0 when the row is not a
//     (or `token_embd.weight` when no      multiple of 256, else Q6_K, which smelt does not
//      output.weight is written)           write; that case is reported as a note)
//   any other 2-D tensor                → the target
//   then, if the row length is not a whole number of the chosen dtype's blocks → f16,
//   reported as a fallback with its reason (stories260K's ffn_down rows are 172 long).
// Tensors are written in the order of the spec's `formats.gguf` map, layer by layer; a tied
// weight the map names (the shared classifier `output.weight`) is written with the data of
// the weight it is tied to, as llama.cpp's converters do; a weight with an `offset` in the
// map is stored plus it (Gemma's norm gains).
//
// Metadata: a GGUF input's keys are copied with their types (so its tokenizer.* and other
// keys survive), then general.architecture (the prefix of the map's param keys), every
// mapped parameter from the bound numbers (the input's type if it had the key, else u32 for
// an int, f32 for a number, bool), the vocabulary when one is given (it replaces the input's
// tokenizer.* keys), general.quantization_version = 2 and general.file_type.
import { InternalError, SmeltError } from '../../ir/diagnostics.js';
import type { StoredDType } from '../../ir/quant.js';
import { STORED, encode } from '../../ir/quant.js';
import type { LoadedSpec } from '../frontend/index.js';
import type { WeightDecl } from '../frontend/spec.js';
import type { Mapped } from '../frontend/formats.js';
import { evalExpr } from '../frontend/expr.js';
import type { LoadedModel } from './load.js';
import type { Vocab } from './tokenizer/sentencepiece.js';
import type { GgufKeyValue, GgufTensorOut } from './weights/gguf-write.js';
import { writeGguf } from './weights/gguf-write.js';
import type { GgufType } from './weights/gguf-types.js';
import { GGUF_FILE_TYPES } from './weights/gguf-types.js';

/** ggml's GGML_QNT_VERSION: the block layouts of q4_0/q8_0 since 2023. */
const QUANTIZATION_VERSION = 2;

/** llama.cpp's row length of its k-quant super-blocks (QK_K). */
const QK_K = 256;

export interface PlannedTensor {
  name: string; // GGUF tensor name
  shape: number[]; // outer → inner
  dtype: StoredDType;
  data: Float32Array;
  /** Why the tensor is not stored as the rule for its kind says (a fallback), if it is not. */
  fallback?: string;
  /** Where smelt departs from llama-quantize for this tensor, if it does. */
  note?: string;
}

export interface Quantized {
  bytes: Uint8Array;
  tensors: PlannedTensor[];
  metadata: GgufKeyValue[];
}

/**
 * The GGUF file of `loaded` with its weights stored as `target`; `onTensor` is called after
 * each tensor is encoded (for a progress display).
 */
export function quantizeModel(spec: LoadedSpec, loaded: LoadedModel, target: StoredDType,
  vocab?: Vocab, onTensor?: (done: number, total: number) => void): Quantized {
  const tensors = planTensors(spec, loaded, target);
  const metadata = ggufMetadata(spec, loaded, target, vocab);
  const out: GgufTensorOut[] = tensors.map((t, i) => {
    const data = encode(t.dtype, t.data);
    onTensor?.(i + 1, tensors.length);
    return { name: t.name, dtype: t.dtype, shape: t.shape, data };
  });
  return { bytes: writeGguf(metadata, out), tensors, metadata };
}

/** Every tensor the spec's GGUF map names, with its data and chosen dtype. */
export function planTensors(spec: LoadedSpec, loaded: LoadedModel,
  target: StoredDType): PlannedTensor[] {
  const found = mappedTensors(spec, loaded);
  const hasOutput = found.some((t) => t.name === 'output.weight');
  return found.map((t) => ({ ...t, ...chooseDType(t.name, t.shape, target, hasOutput) }));
}

/** The stored dtype of one tensor; see the table at the top of this file. */
export function chooseDType(name: string, shape: readonly number[], target: StoredDType,
  hasOutput = true): { dtype: StoredDType; fallback?: string; note?: string } {
  if (target === 'f32' || shape.length < 2) return { dtype: 'f32' };
  const row = shape[shape.length - 1]!;
  const quantized = STORED[target].elements > 1;
  const isOutput = name === 'output.weight' || (!hasOutput && name === 'token_embd.weight');
  let dtype = target;
  let note: string | undefined;
  if (quantized && isOutput) {
    dtype = 'q8_0';
    if (row % QK_K === 0 && target !== 'q8_0') {
      note = `llama-quantize would store ${name} as q6_K (rows of ${row}); smelt writes q8_0`;
    }
  }
  const block = STORED[dtype].elements;
  if (row % block !== 0) {
    return { dtype: 'f16', fallback: `rows of ${row} elements are not a multiple of the ` +
      `${block}-element ${dtype} block` };
  }
  return note ? { dtype, note } : { dtype };
}

/** Model weights, then each layer's, in the order of the GGUF map; ties resolved. */
function mappedTensors(spec: LoadedSpec, loaded: LoadedModel) {
  const map = spec.arch.formats.gguf;
  if (!map) {
    throw new SmeltError('SPEC206', `architecture ${spec.arch.name} (${spec.arch.file}) has ` +
      'no `formats.gguf` map, so smelt does not know its GGUF tensor names');
  }
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  const add = (names: Map<string, Mapped>, decls: WeightDecl[], layer?: number) => {
    for (const [weight, mapped] of names) {
      const leaf = leafOf(weight, decls, loaded, layer);
      if (!leaf) continue; // a tied weight whose target the map does not name
      const name = mapped.tensor.replaceAll('{layer}', String(layer ?? ''));
      // a weight the file stores plus a constant (`offset`: Gemma's 1 + gain)
      const offset = map.offset.get(weight);
      const by = offset ? Number(evalExpr(offset.value, loaded.model.env)) : 0;
      out.push({ name, ...leaf, ...(by === 0 ? {} : { data: leaf.data.map((x) => x + by) }) });
    }
  };
  add(map.weights, spec.arch.weights);
  const layers = new Set(loaded.model.slots.flatMap((s) => (s.layer === undefined ? []
    : [s.layer])));
  for (const layer of [...layers].sort((a, b) => a - b)) {
    add(map.layerWeights, spec.arch.layerWeights, layer);
  }
  return out;
}

/** The data and shape of `weight` (at `layer`), following `tied_to` when it has no leaf. */
function leafOf(weight: string, decls: WeightDecl[], loaded: LoadedModel, layer?: number) {
  let name = weight;
  for (let hops = 0; hops <= decls.length; hops++) {
    const leaf = layer === undefined ? name : `layers.${layer}.${name}`;
    const slot = loaded.model.slots.find((s) => s.name === leaf);
    const data = loaded.weights.get(leaf);
    if (slot && data) return { shape: slot.shape, data };
    const tied = decls.find((d) => d.name === name)?.tiedTo;
    if (!tied) return undefined;
    name = tied.name;
  }
  throw new InternalError('quantize', `weight ${weight} is tied in a cycle`);
}

/** The metadata of the output file, in order; see the top of this file. */
export function ggufMetadata(spec: LoadedSpec, loaded: LoadedModel, target: StoredDType,
  vocab?: Vocab): GgufKeyValue[] {
  const kvs = new Map<string, GgufKeyValue>();
  const set = (key: string, type: GgufType, value: GgufKeyValue['value']) =>
    kvs.set(key, { key, type, value });
  const map = spec.arch.formats.gguf!;
  const source = loaded.file?.format === 'gguf' ? loaded.file : undefined;

  // what the input GGUF says, minus what this file states anew
  const fresh = ['general.file_type', 'general.quantization_version'];
  for (const [key, value] of source?.metadata ?? []) {
    const type = source!.ggufTypes?.get(key);
    if (!type || fresh.includes(key) || (vocab && key.startsWith('tokenizer.'))) continue;
    set(key, type, value);
  }

  // architecture and hyperparameters
  const archKey = [...map.params.values()].filter((p) => p.kind === 'value').map((p) => p.key)
    .find((k) => !k.startsWith('general.') && !k.startsWith('tokenizer.') && k.includes('.'));
  set('general.architecture', 'string', archKey ? archKey.split('.')[0]! : spec.arch.name);
  for (const [param, src] of map.params) {
    const value = loaded.model.env.get(param);
    if (src.kind !== 'value' || value === undefined) continue;
    const decl = spec.arch.params.find((p) => p.name === param);
    set(src.key, source?.ggufTypes?.get(src.key) ?? paramType(value, decl?.type), value);
  }

  // vocabulary, then the file type
  if (vocab) for (const kv of vocabMetadata(vocab)) kvs.set(kv.key, kv);
  set('general.quantization_version', 'u32', QUANTIZATION_VERSION);
  set('general.file_type', 'u32', GGUF_FILE_TYPES[target]);
  return [...kvs.values()];
}

function paramType(value: number | boolean, declared?: 'int' | 'number' | 'bool'): GgufType {
  if (typeof value === 'boolean') return 'bool';
  if (declared === 'int' || (declared === undefined && Number.isInteger(value))) {
    return value < 0 ? 'i32' : value > 0xffffffff ? 'u64' : 'u32';
  }
  return 'f32';
}

/** llama.cpp's token types. */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, byte: 6 } as const;

/** A byte-fallback piece, `<0x00>`..`<0xFF>`. */
const BYTE_PIECE = /^<0x[0-9A-Fa-f]{2}>$/;

/** No such token (llama.cpp's -1, stored as a u32). */
const NO_TOKEN = 0xffffffff;

/**
 * A SentencePiece vocabulary as llama.cpp's llama2.c converter writes it: spaces as "▁",
 * unk/bos/eos spelled `<unk>`, `<s>`, `</s>`, and a token type per id.
 */
export function vocabMetadata(vocab: Vocab): GgufKeyValue[] {
  const special = new Map([[vocab.unk, '<unk>'], [vocab.bos, '<s>'], [vocab.eos, '</s>']]);
  const tokens = vocab.pieces.map((p, id) => special.get(id) ?? p.replaceAll(' ', '\u2581'));
  const types = vocab.pieces.map((_, id) => {
    if (id === vocab.unk) return TOKEN_TYPE.unknown;
    if (id === vocab.bos || id === vocab.eos) return TOKEN_TYPE.control;
    return BYTE_PIECE.test(vocab.pieces[id]!) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
  });
  const kv = (key: string, type: GgufType, value: GgufKeyValue['value']) =>
    ({ key: `tokenizer.ggml.${key}`, type, value });
  return [
    kv('model', 'string', 'llama'),
    kv('tokens', { array: 'string' }, tokens),
    kv('scores', { array: 'f32' }, vocab.scores),
    kv('token_type', { array: 'i32' }, types),
    kv('unknown_token_id', 'u32', vocab.unk),
    kv('bos_token_id', 'u32', vocab.bos),
    kv('eos_token_id', 'u32', vocab.eos),
    kv('seperator_token_id', 'u32', NO_TOKEN), // sic: llama.cpp's key name
    kv('padding_token_id', 'u32', NO_TOKEN),
  ];
}
