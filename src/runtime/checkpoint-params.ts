// Keeps `--param` from contradicting the checkpoint it runs.
//
// A number that fixes how the weights are stored (a weight's shape, the layer count, whether
// a weight is tied) must agree with the file: a `--param` that differs from the file's
// metadata or header is WEIGHT307 naming both values, and a named-tensor file (GGUF,
// safetensors) that holds tensors for a layer past the bound layer count is WEIGHT307 too
// (those layers would silently go unused). Numbers that fix no stored shape (`seq_len`, the
// KV-cache length; `norm_eps`; `rope_theta`) may be overridden freely.

import { SmeltError } from '../../ir/diagnostics.js';
import type { Expr, Value } from '../frontend/expr.js';
import type { LoadedSpec, ModelGraph } from '../frontend/index.js';
import type { NameMap } from '../frontend/formats.js';
import type { ArchSpec } from '../frontend/spec.js';
import type { WeightFile } from './weights/types.js';

/** Every name `expr` reads. */
function namesIn(expr: Expr, into: Set<string>): void {
  switch (expr.kind) {
    case 'name': into.add(expr.name); break;
    case 'bin': namesIn(expr.left, into); namesIn(expr.right, into); break;
    case 'call': namesIn(expr.arg, into); break;
    default: break;
  }
}

/** The params the stored weights depend on: shapes, layer count, `when`, through derived. */
export function storageParams(arch: ArchSpec): Set<string> {
  const used = new Set<string>();
  namesIn(arch.layerCount, used);
  for (const w of [...arch.weights, ...arch.layerWeights]) {
    for (const d of w.shape) if (d.expr !== 'seq') namesIn(d.expr, used);
    if (w.when) namesIn(w.when, used);
  }
  // a derived value stands for the params it is computed from (latest first: they chain)
  for (const d of [...arch.derived].reverse()) if (used.has(d.name)) namesIn(d.expr, used);
  return new Set(arch.params.map((p) => p.name).filter((name) => used.has(name)));
}

/** WEIGHT307 when a `--param` that fixes the stored weights differs from the file's value. */
export function checkOverrides(spec: LoadedSpec, stored: Map<string, Value>,
  origin: string): void {
  const storage = storageParams(spec.arch);
  for (const [param, given] of spec.overrides ?? []) {
    const value = stored.get(param);
    if (value === undefined || !storage.has(param) || value === given.value) continue;
    throw new SmeltError('WEIGHT307', `${origin} has ${param} = ${value}, but --param sets ` +
      `${param} = ${given.value}; the weights are stored for ${param} = ${value}`);
  }
}

/** WEIGHT307 when `file` holds a layer's tensors past the graph's last layer. */
export function checkLayerCount(model: ModelGraph, file: WeightFile, map: NameMap): void {
  const layers = new Set(model.slots.flatMap((s) => (s.layer === undefined ? [] : [s.layer])));
  for (const mapped of map.layerWeights.values()) {
    const name = mapped.tensor.replaceAll('{layer}', String(layers.size))
      .replaceAll('{expert}', '0');
    if (!file.tensors.has(name)) continue;
    throw new SmeltError('WEIGHT307', `${file.path} holds tensor ${name}, of layer ` +
      `${layers.size}, but the spec's numbers give ${layers.size} layers (0 to ` +
      `${layers.size - 1}); set the layer count the file has (it would run only part of it)`);
  }
}
