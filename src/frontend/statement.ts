// One line of a spec graph: `out = op(operand, operand, attr=expr, ...)`.
//
// Operands are value names (inputs, weights, states or earlier results); attributes are
// hyperparameter expressions. Every piece keeps its character offset so diagnostics can
// underline exactly the op, the operand or the attribute at fault.

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';
import type { Expr, Locator } from './expr.js';
import { parseExpr } from './expr.js';

export interface Operand {
  name: string;
  loc: SourceLocation;
}

export interface Attribute {
  key: string;
  loc: SourceLocation;
  value: Expr;
}

export interface Statement {
  out: Operand;
  op: Operand;
  operands: Operand[];
  attrs: Attribute[];
  /** The whole statement, for errors about it as a unit (e.g. arity). */
  loc: SourceLocation;
}

const HEAD = /^\s*([A-Za-z_]\w*)\s*=\s*([A-Za-z_]\w*)\s*\(/;
const NAME = /^[A-Za-z_][\w.]*$/;

/** Splits the argument list on top-level commas, keeping each piece's offset. */
function splitArgs(text: string, start: number): { text: string; at: number }[] {
  const pieces: { text: string; at: number }[] = [];
  let depth = 0;
  let from = start;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      pieces.push({ text: text.slice(from, i), at: from });
      from = i + 1;
    }
  }
  pieces.push({ text: text.slice(from), at: from });
  return pieces.filter((p) => p.text.trim() !== '' || pieces.length > 1);
}

function trimmed(piece: { text: string; at: number }): { text: string; at: number } {
  const lead = piece.text.length - piece.text.trimStart().length;
  return { text: piece.text.trim(), at: piece.at + lead };
}

export function parseStatement(text: string, at: Locator): Statement {
  const loc = at(0, text.length);
  const head = HEAD.exec(text);
  const close = text.lastIndexOf(')');
  if (!head || close < head[0].length - 1 || text.slice(close + 1).trim() !== '') {
    throw new SmeltError('SPEC104',
      `expected \`name = op(operand, ..., attr=value)\`, got \`${text.trim()}\``, loc);
  }
  const out = { name: head[1]!, loc: at(text.indexOf(head[1]!), head[1]!.length) };
  const opAt = head[0].lastIndexOf(head[2]!);
  const op = { name: head[2]!, loc: at(opAt, head[2]!.length) };

  const operands: Operand[] = [];
  const attrs: Attribute[] = [];
  const pieces = splitArgs(text.slice(0, close), head[0].length);
  for (const [i, raw] of pieces.entries()) {
    const piece = trimmed(raw);
    if (piece.text === '') {
      // underline the stray comma: the one before a trailing empty piece, else the one after
      const comma = i === pieces.length - 1 ? raw.at - 1 : raw.at + raw.text.length;
      throw new SmeltError('SPEC104', 'empty operand: a stray `,`', at(comma, 1));
    }
    const eq = piece.text.indexOf('=');
    if (eq >= 0) {
      const key = piece.text.slice(0, eq).trim();
      const valueText = piece.text.slice(eq + 1);
      const valueAt = piece.at + eq + 1;
      const value = parseExpr(valueText, (from, len) => at(valueAt + from, len));
      attrs.push({ key, loc: at(piece.at, key.length), value });
    } else if (NAME.test(piece.text)) {
      if (attrs.length > 0) {
        throw new SmeltError('SPEC104', `operand \`${piece.text}\` follows an attribute`,
          at(piece.at, piece.text.length));
      }
      operands.push({ name: piece.text, loc: at(piece.at, piece.text.length) });
    } else {
      throw new SmeltError('SPEC104', `operand \`${piece.text}\` is not a value name`,
        at(piece.at, Math.max(1, piece.text.length)));
    }
  }
  return { out, op, operands, attrs, loc };
}
