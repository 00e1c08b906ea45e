// The fusion report: every fusion decision a pass takes or declines, and why.

import type { Node } from '../ir/graph.js';

export interface FusionDecision {
  pass: string;
  fused: boolean;
  /** The nodes involved, in printer notation ("%15 rmsnorm (h)"). */
  nodes: string[];
  /** What they became, or why not. */
  detail: string;
}

export function describe(node: Node): string {
  return `%${node.id} ${node.op}${node.name ? ` (${node.name})` : ''}`;
}

/** Collects decisions; a pass calls `taken` or `declined` once per candidate. */
export class FusionReport {
  readonly decisions: FusionDecision[] = [];

  taken(pass: string, nodes: Node[], into: string): void {
    this.decisions.push({ pass, fused: true, nodes: nodes.map(describe), detail: into });
  }

  declined(pass: string, nodes: Node[], reason: string): void {
    this.decisions.push({ pass, fused: false, nodes: nodes.map(describe), detail: reason });
  }
}
