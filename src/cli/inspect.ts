// `smelt inspect`: the bound hyperparameters and the graph IR of a spec.

import { printGraph } from '../../ir/printer.js';
import type { ModelFlags } from './setup.js';
import { loadFromFlags } from './setup.js';
import { loadSpec, specGraph } from '../frontend/index.js';

export function inspectCommand(specPath: string, flags: ModelFlags): void {
  const model = flags.weights !== undefined
    ? loadFromFlags(specPath, flags).model
    : specGraph(loadSpec(specPath));
  const params = [...model.env].map(([k, v]) => `${k}=${v}`).join(' ');
  process.stdout.write(`# ${specPath}: ${params}\n`);
  process.stdout.write(printGraph(model.graph));
}
