// Option parsers shared by the commands: each turns a flag's text into a checked value or
// an InvalidArgumentError that commander prints as `error: option '--x' argument ...`.

import { InvalidArgumentError } from 'commander';

export function int(min: number) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`expected a whole number ≥ ${min}, got "${text}"`);
    }
    return n;
  };
}

export function number(min: number, max = Infinity) {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      const range = max === Infinity ? `≥ ${min}` : `between ${min} and ${max}`;
      throw new InvalidArgumentError(`expected a number ${range}, got "${text}"`);
    }
    return n;
  };
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
