// What `run` and `inspect` share: spec + weights + tokenizer, resolved from the flags.

import { SmeltError } from '../../ir/diagnostics.js';
import type { QuantPolicy } from '../../ir/layout.js';
import type { CompileOptions } from '../../backends/index.js';
import type { ModelGraph } from '../frontend/index.js';
import type { GivenParam, LoadedSpec } from '../frontend/index.js';
import { loadSpec } from '../frontend/index.js';
import type { LoadedModel } from '../runtime/load.js';
import { loadModel } from '../runtime/load.js';
import type { Tokenizer } from '../runtime/tokenizer/index.js';
import { loadLlama2cTokenizer, tokenizerFromGguf } from '../runtime/tokenizer/index.js';

export interface ModelFlags {
  weights?: string;
  randomWeights?: number;
  tokenizer?: string;
  /** `name=value` pairs from `--param`. */
  param?: string[];
}

/** Parses `--param name=value` against the architecture's declared params. */
export function overrides(spec: LoadedSpec, pairs: string[]): Map<string, GivenParam> {
  const given = new Map<string, GivenParam>();
  for (const pair of pairs) {
    const [name, text] = pair.split('=', 2) as [string, string | undefined];
    const decl = spec.arch.params.find((p) => p.name === name);
    if (!decl || text === undefined) {
      throw new SmeltError('CLI501', `--param ${pair}: expected name=value with a param of ` +
        `${spec.arch.name} (${spec.arch.params.map((p) => p.name).join(', ')})`);
    }
    const value = decl.type === 'bool' ? text === 'true' ? true : text === 'false' ? false : NaN
      : Number(text);
    if (typeof value === 'number' && !Number.isFinite(value)) {
      throw new SmeltError('CLI501', `--param ${pair}: \`${name}\` is ${decl.type === 'bool'
        ? 'a bool (true or false)' : `a number`}, got "${text}"`);
    }
    given.set(name, { value });
  }
  return given;
}

/** The spec at `specPath` with the `--param` values of `flags`. */
export function specWithOverrides(specPath: string, flags: Pick<ModelFlags, 'param'>):
  LoadedSpec {
  const spec = loadSpec(specPath);
  if (flags.param?.length) spec.overrides = overrides(spec, flags.param);
  return spec;
}

export function loadFromFlags(specPath: string, flags: ModelFlags): LoadedModel {
  if (flags.weights !== undefined && flags.randomWeights !== undefined) {
    throw new SmeltError('CLI501', 'pass either --weights FILE or --random-weights SEED, not both');
  }
  const spec = specWithOverrides(specPath, flags);
  if (flags.weights !== undefined) return loadModel(spec, { path: flags.weights });
  if (flags.randomWeights !== undefined) return loadModel(spec, { seed: flags.randomWeights });
  throw new SmeltError('CLI501',
    'no weights: pass --weights FILE (GGUF, safetensors or llama2.c .bin) or ' +
    '--random-weights SEED');
}

export interface QuantFlags {
  /** `--quant`: replaces the model file's whole `quant:` section. */
  quant?: QuantPolicy;
  quantKernels?: 'int' | 'float';
}

/** The compile options for weight encodings: the flags, else the model file's `quant:`. */
export function quantOptions(model: ModelGraph, flags: QuantFlags): Pick<CompileOptions,
  'quant' | 'quantWeights' | 'quantKernels'> {
  const kernels = flags.quantKernels ? { quantKernels: flags.quantKernels } : {};
  if (flags.quant) return { quant: flags.quant, ...kernels };
  const spec = model.quant;
  return { ...(spec?.policy ? { quant: spec.policy } : {}),
    ...(spec && Object.keys(spec.weights).length > 0 ? { quantWeights: spec.weights } : {}),
    ...kernels };
}

/** The tokenizer from --tokenizer, else the one embedded in a GGUF, else none. */
export function tokenizerFor(loaded: LoadedModel, flags: ModelFlags): Tokenizer | undefined {
  const vocab = Number(loaded.model.env.get('vocab_size') ?? 0);
  if (flags.tokenizer !== undefined) {
    if (flags.tokenizer.endsWith('.gguf')) {
      throw new SmeltError('CLI501',
        `--tokenizer takes a llama2.c tokenizer .bin; ${flags.tokenizer} is a GGUF — pass it ` +
        'as --weights and its vocabulary is used');
    }
    return loadLlama2cTokenizer(flags.tokenizer, vocab);
  }
  const meta = loaded.file?.metadata;
  const model = meta?.get('tokenizer.ggml.model');
  // llama.cpp's "no vocabulary" (init-weights writes it): token ids in and out
  if (model === 'none' || model === 'no_vocab') return undefined;
  if (loaded.file?.format === 'gguf' && meta?.has('tokenizer.ggml.model')) {
    return tokenizerFromGguf(meta, loaded.file.path);
  }
  return undefined;
}
