import { InvalidArgumentError } from 'commander';

export function parsePositiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0)
    throw new InvalidArgumentError(`${flag} must be a positive integer (got "${v}").`);
  return n;
}

export function parseChoice<T extends string>(flag: string, v: string, choices: readonly T[]): T {
  if (!choices.includes(v as T))
    throw new InvalidArgumentError(`${flag} must be one of ${choices.join(', ')} (got "${v}").`);
  return v as T;
}

export function parseTau(v: string): number {
  const t = Number(v);
  if (!(t >= 0 && t <= 0.99) || Math.abs(t * 100 - Math.round(t * 100)) > 1e-9) {
    throw new InvalidArgumentError(`--tau must be on the grid 0, 0.01, … 0.99 (got "${v}").`);
  }
  return Math.round(t * 100) / 100;
}
