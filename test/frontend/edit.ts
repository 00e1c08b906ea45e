// Spec fixtures for diagnostic tests: a real spec with one piece of text replaced.

/** Replace `from` (which must occur exactly once) by `to`. */
export type Edit = [from: string, to: string];

export function edit(text: string, [from, to]: Edit): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(`edit needs exactly one occurrence of ${JSON.stringify(from)}`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}
