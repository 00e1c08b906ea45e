// Turns a weight's f32 data into what a backend copies into its weights region: the
// folded norm gain applied (column k scaled by gain[k]), then the planned layout.

import { InternalError } from '../ir/diagnostics.js';
import type { ProgramWeight } from '../ir/kernel.js';
import { pack } from '../ir/layout.js';

export function preparedWeight(entry: ProgramWeight,
  weights: ReadonlyMap<string, Float32Array>): Float32Array {
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
