// Checks the format maps against the spec's declarations, when the spec loads.
//
// Each named-tensor map (gguf, safetensors) covers exactly the declared weights: a gap is
// SPEC206 at the section's key, a stray entry SPEC205 at the entry. Its tensor names use
// `{layer}` exactly in `layer_weights` (SPEC208 at the name). The llama2.c orders list every
// weight. GGUF param keys and llama2.c header names are declared params (SPEC105). The
// dims of a llama2.c `skip` need numbers, so `checkSkipDims` runs when the graph is built.

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Env } from './expr.js';
import { evalDim } from './expr.js';
import type { FormatMaps, Mapped, NameMap, OrderEntry } from './formats.js';
import type { ArchSpec, WeightDecl } from './spec.js';

type Section = 'weights' | 'layer_weights';

/**
 * `{layer}` in every layer weight's tensor name, in no model weight's; `{expert}` may appear
 * too (one tensor per expert, stacked on the first axis); no other `{…}`.
 */
function checkTensorName(mapped: Mapped, format: string, section: Section): void {
  const where = `\`formats.${format}.${section}\``;
  const hasLayer = mapped.tensor.includes('{layer}');
  if (/[{}]/.test(mapped.tensor.replaceAll('{layer}', '').replaceAll('{expert}', ''))) {
    throw new SmeltError('SPEC208', `tensor name \`${mapped.tensor}\` in ${where} has a ` +
      'placeholder other than `{layer}` and `{expert}`', mapped.loc);
  }
  if (section === 'layer_weights' && !hasLayer) {
    throw new SmeltError('SPEC208', `tensor name \`${mapped.tensor}\` in ${where} has no ` +
      '`{layer}`, so every layer would read the same tensor', mapped.loc);
  }
  if (section === 'weights' && hasLayer) {
    throw new SmeltError('SPEC208', `tensor name \`${mapped.tensor}\` in ${where} has a ` +
      '`{layer}`, but model weights are not per layer', mapped.loc);
  }
}

function checkNames(map: NameMap, format: string, weights: WeightDecl[], layer: WeightDecl[]) {
  const sections: [Map<string, Mapped>, WeightDecl[], Section][] =
    [[map.weights, weights, 'weights'], [map.layerWeights, layer, 'layer_weights']];
  for (const [names, decls, section] of sections) {
    for (const decl of decls) {
      if (!names.has(decl.name)) {
        throw new SmeltError('SPEC206', `\`formats.${format}.${section}\` has no entry for ` +
          `weight \`${decl.name}\``, map.sections[section]);
      }
    }
    for (const [name, mapped] of names) {
      if (!decls.some((d) => d.name === name)) {
        throw new SmeltError('SPEC205', `\`formats.${format}.${section}\` maps \`${name}\`, ` +
          `which is not a declared ${section} entry`, mapped.loc);
      }
      checkTensorName(mapped, format, section);
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
      const listed = (e: OrderEntry) =>
        e.kind === 'weight' && e.name === decl.name && e.stacked === stacked;
      if (!order.some(listed)) {
        const name = stacked ? `layers.${decl.name}` : decl.name;
        throw new SmeltError('SPEC206',
          `\`formats.llama2c.${form}\` does not list weight \`${name}\``, loc);
      }
    }
  }
}

/** `name`, written at `loc` in `where`, is a declared param (SPEC105). */
function checkParam(arch: ArchSpec, name: string, loc: SourceLocation, where: string): void {
  if (arch.params.some((p) => p.name === name)) return;
  const known = arch.params.map((p) => p.name).join(', ');
  throw new SmeltError('SPEC105', `${where} names \`${name}\`, which is not a declared param ` +
    `(params: ${known})`, loc);
}

/** Every map covers exactly the declared weights and sets only declared params. */
export function checkFormats(arch: ArchSpec): void {
  const { gguf, safetensors, llama2c } = arch.formats;
  const { weights, layerWeights } = arch;
  if (gguf) {
    for (const [name, source] of gguf.params) {
      checkParam(arch, name, source.paramLoc, '`formats.gguf.params`');
    }
    checkNames(gguf, 'gguf', weights, layerWeights);
  }
  if (safetensors) checkNames(safetensors, 'safetensors', weights, layerWeights);
  for (const map of [gguf, safetensors]) {
    const adjusted = [
      ...[...(map?.transpose ?? [])].map(([name, loc]) => ['transpose', name, loc]),
      ...[...(map?.offset ?? [])].map(([name, o]) => ['offset', name, o.loc]),
    ] as [string, string, SourceLocation][];
    for (const [key, name, loc] of adjusted) {
      if (![...weights, ...layerWeights].some((w) => w.name === name)) {
        throw new SmeltError('SPEC205', `\`${key}\` names \`${name}\`, which is not a ` +
          'declared weight', loc);
      }
    }
    for (const [name, { loc }] of map?.permuteRope ?? []) {
      if (!layerWeights.some((w) => w.name === name)) {
        throw new SmeltError('SPEC205', `\`permute_rope\` names \`${name}\`, which is not a ` +
          'declared layer weight', loc);
      }
    }
  }
  if (llama2c) {
    for (const field of llama2c.header) {
      checkParam(arch, field.name, field.loc, '`formats.llama2c.header`');
    }
    checkOrder(llama2c.legacy, 'legacy', weights, layerWeights, llama2c.keys.legacy);
    checkOrder(llama2c.v1, 'v1', weights, layerWeights, llama2c.keys.v1);
  }
}

/** Every dim of a llama2.c `skip` evaluates to a positive whole number (SPEC105, SPEC204). */
export function checkSkipDims(formats: FormatMaps, env: Env): void {
  for (const entry of [...(formats.llama2c?.legacy ?? []), ...(formats.llama2c?.v1 ?? [])]) {
    if (entry.kind === 'skip') for (const d of entry.shape) evalDim(d.expr, env, d.text);
  }
}
