// Turns a weight's f32 data into what a backend copies into its weights region: the
// folded norm gain applied (column k scaled by gain[k]), then the planned layout. A weight
// the checkpoint stores in the layout's own encoding (a q4_0 GGUF tensor going to a q4_0
// layout) is repacked from its blocks instead: no decode and re-encode, so no drift.

import { InternalError } from '../ir/diagnostics.js';
import type { ProgramWeight } from '../ir/kernel.js';
import { pack, packEncoded } from '../ir/layout.js';
import type { EncodedWeight } from './types.js';

export function preparedWeight(entry: ProgramWeight, weights: ReadonlyMap<string, Float32Array>,
  encoded?: ReadonlyMap<string, EncodedWeight>): Float32Array {
  const raw = encoded?.get(entry.name);
  if (raw && raw.dtype === entry.layout.kind && entry.foldGain === undefined) {
    const [n, k] = entry.shape as [number, number];
    const bytes = packEncoded(raw.bytes, entry.layout, n, k);
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  }
  let data = weights.get(entry.name);
  if (!data) throw new InternalError('weights', `no data for weight ${entry.name}`);
  if (entry.shape.length !== 2) return data;
  const [n, k] = entry.shape as [number, number];
  if (entry.foldGain !== undefined) {
    const gain = weights.get(entry.foldGain);
    if (!gain || gain.length !== k) {
      throw new InternalError('weights', `gain ${entry.foldGain} does not fit ${entry.name}`);
    }
    data = data.map((value, i) => value * gain[i % k]!);
  }
  return pack(data, entry.layout, n, k);
}
