// The frontend: a YAML spec in, a verified graph IR out.

import { SmeltError } from '../../ir/diagnostics.js';
import { formatType } from '../../ir/types.js';
import { tokenLimit } from '../../ir/graph.js';
import { verify } from '../../ir/verify.js';
import type { ModelGraph } from './build.js';
import { buildGraph } from './build.js';
import type { GivenParam, LoadedSpec } from './model.js';
import { checkBudget } from './budget.js';
import { checkSkipDims } from './format-check.js';
import { bindParams, requireNumbers } from './model.js';

export type { ModelGraph, WeightSlot } from './build.js';
export type { LoadedSpec, GivenParam, QuantSpec } from './model.js';
export { loadSpec } from './model.js';

/**
 * The graph of `spec` with its model file's numbers, overridden by `given` (for example
 * numbers read from a weight file's metadata, named by `origin`), overridden in turn by
 * the user's `--param` values (`spec.overrides`). `checkMemory: false` skips the check that
 * the machine can hold the model (RUN605), for reports. An architecture with
 * neither a model file nor a weight file's numbers is SPEC101, unless every param has a
 * default or a `--param` value.
 */
export function specGraph(spec: LoadedSpec, given = new Map<string, GivenParam>(),
  origin?: string, options: { checkMemory?: boolean } = {}): ModelGraph {
  if (!spec.model && given.size === 0 && origin === undefined) {
    requireNumbers(spec.arch, spec.overrides);
  }
  const params = new Map([...(spec.model?.params ?? []), ...given, ...(spec.overrides ?? [])]);
  const from = origin ?? (spec.model ? `model file ${spec.model.file}` : `spec ${spec.arch.file}`);
  const env = bindParams(spec.arch, params, from, given.size === 0 ? spec.model?.loc : undefined);
  if (options.checkMemory !== false) checkBudget(spec.arch, env);
  // the graph's own shapes first: a bad number is reported where the model uses it, not
  // in a llama2.c table the user may not be loading
  const model = buildGraph(spec.arch, env);
  checkSkipDims(spec.arch.formats, env);
  verify(model.graph, 'frontend');
  checkLogits(spec, model);
  return spec.model?.quant ? { ...model, quant: spec.model.quant } : model;
}

/**
 * The runtime samples from the one graph output, so it must be logits: [seq, vocab] where
 * vocab is the number of rows the embedding tables have.
 */
function checkLogits(spec: LoadedSpec, model: ModelGraph): void {
  const outputs = spec.arch.outputs;
  if (outputs.length !== 1) {
    const detail = `\`graph.outputs\` must name exactly one value, the logits; it names ` +
      `${outputs.length}`;
    throw outputs[1] ? new SmeltError('SPEC205', detail, outputs[1].loc)
      : new SmeltError('SPEC205', detail);
  }
  const { graph } = model;
  const out = graph.nodes[graph.outputs[0]!]!;
  const vocab = tokenLimit(graph);
  const [seq, width] = out.type.shape;
  if (out.type.shape.length !== 2 || seq !== 'seq' || (vocab !== Infinity && width !== vocab)) {
    throw new SmeltError('SPEC203', `output \`${outputs[0]!.name}\` must be the logits ` +
      `f32[seq, ${vocab === Infinity ? 'vocab' : vocab}], got ${formatType(out.type)}`,
    outputs[0]!.loc);
  }
}
