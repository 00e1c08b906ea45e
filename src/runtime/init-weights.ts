// Seeded random weights written as a checkpoint (`smelt init-weights`): a GGUF or a
// safetensors file that any spec can run from without a download.
//
// The data is `randomWeights` (each weight's `init` in the spec: normal std 0.02, residual
// projections scaled by 1/√(2·layers), norms one, biases zero), so a file read back gives
// the same logits as `--random-weights SEED`. Names come from the spec's format maps:
//   gguf         every untied weight under its `formats.gguf` name, f32, in map order
//                (layer by layer); metadata as `smelt quantize` writes it: general.
//                architecture (the prefix of the mapped keys), every mapped param, and, when
//                no vocabulary is given, llama.cpp's "no vocabulary" (tokenizer.ggml.model
//                = "none", <arch>.vocab_size) with placeholder tokens `<tok_i>`, so that a
//                param read as `{ length_of: tokenizer.ggml.tokens }` reads back;
//   safetensors  every untied weight under its `formats.safetensors` name; `permute_rope`
//                weights in Hugging Face's half-split row order, `transpose` weights as
//                [in, out] (the reader undoes both);
//   either       weights with an `offset` stored plus it (Gemma's norm gains in GGUF); a name
//                with `{expert}` written as one tensor per expert (HF Mixtral).
// A weight whose tie holds (a tied classifier) is not written: llama.cpp and Hugging Face
// omit it for tied models, and a GGUF param `{ absent: output.weight }` then reads `true`.
import { SmeltError } from '../../ir/diagnostics.js';
import type { LoadedSpec, WeightSlot } from '../frontend/index.js';
import type { Mapped, NameMap } from '../frontend/formats.js';
import { evalDim, evalExpr } from '../frontend/expr.js';
import type { LoadedModel } from './load.js';
import { loadModel } from './load.js';
import { ggufMetadata } from './quantize.js';
import type { Vocab } from './tokenizer/sentencepiece.js';
import type { GgufKeyValue } from './weights/gguf-write.js';
import { writeGguf } from './weights/gguf-write.js';
import { pairsToHalves, transpose } from './weights/permute.js';
import { writeSafetensors } from './weights/safetensors.js';

export type CheckpointFormat = 'gguf' | 'safetensors';

interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The checkpoint bytes of `spec` with seeded random weights, and the model they hold. */
export function initWeights(spec: LoadedSpec, seed: number, format: CheckpointFormat,
  vocab?: Vocab): { bytes: Uint8Array; loaded: LoadedModel; tensors: number } {
  const loaded = loadModel(spec, { seed });
  const metadata: Record<string, string> = { 'smelt.seed': String(seed) };
  return { loaded, ...checkpointBytes(spec, loaded, format, vocab, metadata) };
}

/**
 * A checkpoint of `loaded`'s weights, named by `spec`'s map for `format`; `extra` string
 * metadata goes into a safetensors header.
 */
export function checkpointBytes(spec: LoadedSpec, loaded: LoadedModel, format: CheckpointFormat,
  vocab?: Vocab, extra: Record<string, string> = {}): { bytes: Uint8Array; tensors: number } {
  const map = spec.arch.formats[format];
  if (!map) {
    throw new SmeltError('SPEC206', `architecture ${spec.arch.name} (${spec.arch.file}) has ` +
      `no \`formats.${format}\` map, so smelt does not know its ${format} tensor names`);
  }
  const tensors = namedTensors(loaded, map, format === 'safetensors');
  const bytes = format === 'gguf'
    ? writeGguf(ggufKeys(spec, loaded, vocab), tensors.map((t) => ({
      name: t.name, dtype: 'f32' as const, shape: t.shape,
      data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    })))
    : writeSafetensors(tensors, { format: 'pt', ...extra });
  return { bytes, tensors: tensors.length };
}

/** Model weights, then each layer's, in map order; tied weights (no leaf) are left out. */
function namedTensors(loaded: LoadedModel, map: NameMap, halves: boolean): NamedTensor[] {
  const bySlot = new Map(loaded.model.slots.map((s) => [s.name, s]));
  const out: NamedTensor[] = [];
  const add = (names: Map<string, Mapped>, layer?: number) => {
    for (const [weight, mapped] of names) {
      const slot = bySlot.get(layer === undefined ? weight : `layers.${layer}.${weight}`);
      if (!slot) continue; // tied to another weight
      const name = mapped.tensor.replaceAll('{layer}', String(layer ?? ''));
      const data = stored(loaded, slot, map, halves);
      const parts = name.includes('{expert}') ? experts(name, slot.shape, data)
        : [{ name, shape: slot.shape, data }];
      for (const part of parts) {
        if (map.transpose.has(weight) && part.shape.length === 2) {
          const [rows, cols] = part.shape as [number, number];
          out.push({ ...part, shape: [cols, rows], data: transpose(part.data, rows, cols) });
        } else {
          out.push(part);
        }
      }
    }
  };
  add(map.weights);
  const layers = [...new Set(loaded.model.slots.flatMap((s) => s.layer ?? []))];
  for (const layer of layers.sort((a, b) => a - b)) add(map.layerWeights, layer);
  return out;
}

/** A stacked [experts, ...] weight as one tensor per expert (`{expert}` in the name). */
function experts(name: string, shape: number[], data: Float32Array): NamedTensor[] {
  const [count, ...rest] = shape;
  const size = rest.reduce((a, b) => a * b, 1);
  return Array.from({ length: count! }, (_, e) => ({ name: name.replaceAll('{expert}', String(e)),
    shape: rest, data: data.subarray(e * size, (e + 1) * size) }));
}

/** The data as the file stores it: half-split rows where the map says `permute_rope`. */
function stored(loaded: LoadedModel, slot: WeightSlot, map: NameMap, halves: boolean) {
  const offset = map.offset.get(slot.decl.name);
  const by = offset ? evalExpr(offset.value, loaded.model.env) as number : 0;
  const data = by === 0 ? loaded.weights.get(slot.name)! : loaded.weights.get(slot.name)!
    .map((x) => x + by);
  const permute = slot.layer === undefined ? undefined : map.permuteRope.get(slot.decl.name);
  if (!halves || !permute) return data;
  const heads = evalDim(permute.heads, loaded.model.env, 'permute_rope heads');
  return pairsToHalves(data, slot.shape[0]!, slot.shape[1]!, heads);
}

/** `smelt quantize`'s f32 metadata, the model name, and a vocabulary or its placeholder. */
function ggufKeys(spec: LoadedSpec, loaded: LoadedModel, vocab?: Vocab): GgufKeyValue[] {
  const keys = ggufMetadata(spec, loaded, 'f32', vocab);
  const have = new Set(keys.map((k) => k.key));
  const extra: GgufKeyValue[] = [];
  if (spec.model && !have.has('general.name')) {
    extra.push({ key: 'general.name', type: 'string', value: spec.model.name });
  }
  if (!vocab && !have.has('tokenizer.ggml.tokens')) {
    const size = Number(loaded.model.env.get('vocab_size') ?? 0);
    const ids = Array.from({ length: size }, (_, i) => i);
    const arch = keys.find((k) => k.key === 'general.architecture')!.value as string;
    extra.push(
      { key: `${arch}.vocab_size`, type: 'u32', value: size },
      { key: 'tokenizer.ggml.model', type: 'string', value: 'none' },
      { key: 'tokenizer.ggml.tokens', type: { array: 'string' },
        value: ids.map((i) => `<tok_${i}>`) },
      { key: 'tokenizer.ggml.scores', type: { array: 'f32' }, value: ids.map(() => 0) },
      { key: 'tokenizer.ggml.token_type', type: { array: 'i32' }, value: ids.map(() => 1) },
    );
  }
  const fresh = extra.filter((kv) => !have.has(kv.key));
  return [...keys.slice(0, 1), ...fresh, ...keys.slice(1)];
}
