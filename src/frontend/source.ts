// A parsed YAML spec file that remembers where every node came from.
//
// Every accessor either returns a typed value or throws a located `SmeltError`, so the
// loaders above it read as plain field lookups. Offsets come from the `yaml` package's
// node ranges; `locate` turns them into line and column.

import { readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair, Scalar, YAMLMap, YAMLSeq } from 'yaml';
import type { DiagnosticCode, SourceLocation } from '../../ir/diagnostics.js';
import { SmeltError, locate } from '../../ir/diagnostics.js';

export type { YamlNode };

export class SpecSource {
  readonly root: YamlNode | null;

  private constructor(
    readonly file: string,
    readonly text: string,
    root: YamlNode | null,
  ) {
    this.root = root;
  }

  /**
   * Reads and parses `file`; `what` names it in a SPEC106 (located at `at` when another
   * file names it). A YAML syntax error is SPEC100 at the offending token.
   */
  static load(file: string, what = 'spec file', at?: SourceLocation): SpecSource {
    return SpecSource.parse(file, readSpecText(file, what, at));
  }

  static parse(file: string, text: string): SpecSource {
    // a weight file given where the spec goes: say so, rather than quote binary as YAML
    const binary = text.slice(0, 4096).search(/[\0\uFFFD]/);
    if (binary >= 0) {
      throw new SmeltError('SPEC100', 'this is binary data, not a YAML spec (a weight file? ' +
        'pass it as --weights, after the spec)', locate(file, '', 0, 1));
    }
    const doc = parseDocument(text, { lineCounter: new LineCounter(), prettyErrors: false });
    const first = doc.errors[0];
    if (first) {
      const message = first.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      const [start, end] = first.pos;
      throw new SmeltError('SPEC100', message, locate(file, text, start, Math.max(1, end - start)));
    }
    return new SpecSource(file, text, (doc.contents as YamlNode | null) ?? null);
  }

  /** The location of a node (or a sub-range of a plain scalar, by character offsets). */
  where(node: YamlNode | null | undefined, from = 0, length?: number): SourceLocation {
    const range = node?.range;
    if (!range) return locate(this.file, this.text, 0, 1);
    const start = range[0] + from;
    const len = length ?? Math.max(1, range[1] - range[0] - from);
    return locate(this.file, this.text, start, len);
  }

  error(code: DiagnosticCode, detail: string, node?: YamlNode | null, from = 0, len?: number) {
    return new SmeltError(code, detail, this.where(node, from, len));
  }

  /** Asserts `node` is a mapping; `what` names it in the message. */
  map(node: YamlNode | null | undefined, what: string): YAMLMap<Scalar, YamlNode> {
    if (isMap(node)) return node as YAMLMap<Scalar, YamlNode>;
    throw this.error('SPEC102', `${what} must be a mapping`, node);
  }

  seq(node: YamlNode | null | undefined, what: string): YAMLSeq<YamlNode> {
    if (isSeq(node)) return node as YAMLSeq<YamlNode>;
    throw this.error('SPEC102', `${what} must be a list`, node);
  }

  /** The pairs of a mapping, each key as a string with its scalar node. */
  entries(map: YAMLMap<Scalar, YamlNode>): { key: string; keyNode: Scalar; value: YamlNode }[] {
    return map.items.map((pair: Pair<Scalar, YamlNode>) => {
      const keyNode = pair.key;
      if (!isScalar(keyNode)) {
        throw this.error('SPEC102', 'keys must be plain names', (keyNode as YamlNode) ?? map);
      }
      return { key: String(keyNode.value), keyNode, value: pair.value as YamlNode };
    });
  }

  /**
   * A field of a mapping, or a SPEC101 naming the field and where it was expected: at the
   * key when it is there without a value, else at the mapping.
   */
  field(map: YAMLMap<Scalar, YamlNode>, key: string, what: string): YamlNode {
    const value = this.optional(map, key);
    if (value !== undefined) return value;
    const keyNode = this.keyNode(map, key);
    if (keyNode) throw this.error('SPEC101', `\`${key}\` in ${what} has no value`, keyNode);
    throw this.error('SPEC101', `${what} needs ${article(key)} \`${key}\` field`, map);
  }

  /** The key node of `key` in `map`, if the key is there. */
  keyNode(map: YAMLMap<Scalar, YamlNode>, key: string): Scalar | undefined {
    return map.items.find((p) => isScalar(p.key) && p.key.value === key)?.key;
  }

  optional(map: YAMLMap<Scalar, YamlNode>, key: string): YamlNode | undefined {
    const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
    return pair ? ((pair.value as YamlNode | null) ?? undefined) : undefined;
  }

  /** Rejects keys outside `allowed`, pointing at the first unknown one. */
  onlyKeys(map: YAMLMap<Scalar, YamlNode>, allowed: readonly string[], what: string): void {
    for (const { key, keyNode } of this.entries(map)) {
      if (!allowed.includes(key)) {
        const list = allowed.map((k) => `\`${k}\``).join(', ');
        throw this.error('SPEC103', `unknown field \`${key}\` in ${what} (expected ${list})`,
          keyNode);
      }
    }
  }

  string(node: YamlNode | null | undefined, what: string): string {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    throw this.error('SPEC102', `${what} must be a string`, node);
  }

  scalar(node: YamlNode | null | undefined, what: string): string | number | boolean {
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
    }
    throw this.error('SPEC102', `${what} must be a number, string or boolean`, node);
  }
}

/** `a` or `an`, by the first letter of `word`. */
export function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}

/** The text of a spec file, or a SPEC106 saying why it cannot be read. */
function readSpecText(file: string, what: string, at?: SourceLocation): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? `${what} ${file} not found`
      : code === 'EISDIR' ? `${what} ${file} is a directory, not a YAML file`
        : `cannot read ${what} ${file}: ${(e as Error).message}`;
    throw new SmeltError('SPEC106', detail, at);
  }
}

export { isMap, isScalar, isSeq };
