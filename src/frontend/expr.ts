// Arithmetic over hyperparameters: `dim / n_heads`, `n_kv_heads * head_size`, `1e-5`.
//
// Grammar: expr = term (('+' | '-') term)*; term = atom (('*' | '/') atom)*;
// atom = number | name | name '(' expr ')' | '(' expr ')', where a called name is one of
// FUNCTIONS (`sqrt`). Every node keeps its location (a binary node spans
// both operands) so that an unknown parameter is reported under the name itself.

import type { SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError } from '../../ir/diagnostics.js';

export type Expr =
  | { kind: 'num'; value: number; loc: SourceLocation }
  | { kind: 'bool'; value: boolean; loc: SourceLocation }
  | { kind: 'name'; name: string; loc: SourceLocation }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/'; left: Expr; right: Expr; loc: SourceLocation }
  | { kind: 'call'; fn: MathName; arg: Expr; loc: SourceLocation };

/** Functions an expression may call: `sqrt(dim)` (Gemma's embedding scale). */
export const FUNCTIONS = { sqrt: Math.sqrt } as const;
export type MathName = keyof typeof FUNCTIONS;

export type Value = number | boolean;
export type Env = ReadonlyMap<string, Value>;

/** Maps a character range of the expression text to a location in the spec file. */
export type Locator = (from: number, length: number) => SourceLocation;

const TOKEN = /\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|([A-Za-z_]\w*)|(.))/y;

interface Token {
  text: string;
  kind: 'num' | 'name' | 'punct';
  at: number;
}

function tokenize(text: string, at: Locator): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < text.length && (m = TOKEN.exec(text))) {
    const raw = m[1] ?? m[2] ?? m[3];
    if (raw === undefined) break;
    const start = m.index + m[0].length - raw.length;
    const kind = m[1] ? 'num' : m[2] ? 'name' : 'punct';
    if (kind === 'punct' && !'+-*/()'.includes(raw)) {
      throw new SmeltError('SPEC104', `unexpected \`${raw}\` in expression \`${text}\``,
        at(start, 1));
    }
    tokens.push({ text: raw, kind, at: start });
  }
  return tokens;
}

/** A parsed piece and the character range of the text it came from. */
interface Spanned {
  expr: Expr;
  from: number;
  to: number;
}

export function parseExpr(text: string, at: Locator): Expr {
  const tokens = tokenize(text, at);
  let i = 0;
  const fail = (why: string, pos: number): never => {
    throw new SmeltError('SPEC104', `${why} in expression \`${text.trim()}\``, at(pos, 1));
  };

  const atom = (): Spanned => {
    const t = tokens[i++];
    if (!t) return fail('missing operand', text.length);
    const span = { from: t.at, to: t.at + t.text.length };
    const loc = at(t.at, t.text.length);
    if (t.kind === 'num') return { expr: { kind: 'num', value: Number(t.text), loc }, ...span };
    if (t.kind === 'name' && (t.text === 'true' || t.text === 'false')) {
      return { expr: { kind: 'bool', value: t.text === 'true', loc }, ...span };
    }
    if (t.kind === 'name' && tokens[i]?.text === '(') {
      if (!Object.hasOwn(FUNCTIONS, t.text)) {
        fail(`unknown function \`${t.text}\` (functions: ${Object.keys(FUNCTIONS).join(', ')})`,
          t.at);
      }
      i++;
      const inner = sum();
      if (tokens[i]?.text !== ')') fail('missing `)`', tokens[i]?.at ?? text.length);
      const to = tokens[i++]!.at + 1;
      return { expr: { kind: 'call', fn: t.text as MathName, arg: inner.expr,
        loc: at(t.at, to - t.at) }, from: t.at, to };
    }
    if (t.kind === 'name') return { expr: { kind: 'name', name: t.text, loc }, ...span };
    if (t.text === '(') {
      const inner = sum();
      if (tokens[i]?.text !== ')') fail('missing `)`', tokens[i]?.at ?? text.length);
      i++;
      return inner;
    }
    return fail(`unexpected \`${t.text}\``, t.at);
  };
  // a binary node spans its operands: `dim / n_heads` is underlined whole
  const chain = (next: () => Spanned, ops: string): (() => Spanned) => () => {
    let left = next();
    while (tokens[i] && ops.includes(tokens[i]!.text)) {
      const op = tokens[i++]!.text as '+' | '-' | '*' | '/';
      const right = next();
      const loc = at(left.from, right.to - left.from);
      left = { expr: { kind: 'bin', op, left: left.expr, right: right.expr, loc },
        from: left.from, to: right.to };
    }
    return left;
  };
  const product = chain(atom, '*/');
  const sum = chain(product, '+-');

  const expr = sum();
  if (i < tokens.length) fail(`unexpected \`${tokens[i]!.text}\``, tokens[i]!.at);
  return expr.expr;
}

const PRECEDENCE = { '+': 1, '-': 1, '*': 2, '/': 2 } as const;

/** The expression as text, parenthesized only where precedence needs it: `dim / (a - b)`. */
export function formatExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'num':
    case 'bool':
      return String(expr.value);
    case 'name':
      return expr.name;
    case 'call':
      return `${expr.fn}(${formatExpr(expr.arg)})`;
    case 'bin': {
      const p = PRECEDENCE[expr.op];
      const side = (e: Expr, tight: boolean) => {
        const inner = e.kind === 'bin' ? PRECEDENCE[e.op] : 3;
        return inner < p || (tight && inner === p) ? `(${formatExpr(e)})` : formatExpr(e);
      };
      const tight = expr.op === '-' || expr.op === '/';
      return `${side(expr.left, false)} ${expr.op} ${side(expr.right, tight)}`;
    }
  }
}

/** Evaluates `expr`; a name missing from `env` is SPEC105 listing what is known. */
export function evalExpr(expr: Expr, env: Env): Value {
  switch (expr.kind) {
    case 'num':
    case 'bool':
      return expr.value;
    case 'name': {
      const v = env.get(expr.name);
      if (v === undefined) {
        const known = [...env.keys()].join(', ');
        throw new SmeltError('SPEC105', `unknown parameter \`${expr.name}\` (known: ${known})`,
          expr.loc);
      }
      return v;
    }
    case 'call': {
      const a = evalExpr(expr.arg, env);
      if (typeof a !== 'number') {
        throw new SmeltError('SPEC104', `\`${expr.fn}\` needs a number, got ${a}`, expr.loc);
      }
      return FUNCTIONS[expr.fn](a);
    }
    case 'bin': {
      const l = evalExpr(expr.left, env);
      const r = evalExpr(expr.right, env);
      if (typeof l !== 'number' || typeof r !== 'number') {
        throw new SmeltError('SPEC104', `\`${expr.op}\` needs numbers, got ${l} and ${r}`,
          expr.loc);
      }
      if (expr.op === '/' && r === 0) {
        throw new SmeltError('SPEC104',
          `division by zero: the divisor \`${formatExpr(expr.right)}\` is ${r}`, expr.right.loc);
      }
      return expr.op === '+' ? l + r : expr.op === '-' ? l - r : expr.op === '*' ? l * r : l / r;
    }
  }
}

/** Evaluates to a positive whole number, as a shape dim must be. */
export function evalDim(expr: Expr, env: Env, text: string): number {
  const v = evalExpr(expr, env);
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new SmeltError('SPEC204',
      `dimension \`${text}\` evaluates to ${v}, not a positive whole number`, expr.loc);
  }
  return v;
}
