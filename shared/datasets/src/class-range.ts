/** Thrown for a bad class-range or selection spec (user input, not a file). */
export class SelectionError extends Error {
  override name = 'SelectionError';
}

/**
 * A set of class ids written as ranges, e.g. "1-5,8,10-12". Inclusive on both ends, matching how
 * the CUB metric-learning protocol is usually quoted ("train on 1-100, test on 101-200").
 */
export class ClassRange {
  readonly ranges: ReadonlyArray<readonly [lo: number, hi: number]>;

  constructor(ranges: ReadonlyArray<readonly [number, number]>) {
    this.ranges = ranges;
  }

  has(label: number): boolean {
    return this.ranges.some(([lo, hi]) => label >= lo && label <= hi);
  }

  toString(): string {
    return this.ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',');
  }
}

const PART = /^(\d+)(?:\s*-\s*(\d+))?$/;

/** Parses "1-10", "3", "1-5,8,10-12" (spaces allowed). Throws SelectionError on anything else. */
export function parseClassRange(spec: string): ClassRange {
  const example = 'write it like "1-10", "3" or "1-5,8,10-12"';
  if (spec.trim() === '') throw new SelectionError(`class range is empty; ${example}`);
  const ranges: [number, number][] = [];
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    const match = PART.exec(part);
    if (!match) {
      throw new SelectionError(
        `class range "${spec}": "${part}" is not a class id or range of class ids; ${example}`,
      );
    }
    const lo = Number(match[1]);
    const hi = match[2] === undefined ? lo : Number(match[2]);
    if (lo > hi) {
      throw new SelectionError(
        `class range "${spec}": "${part}" starts after it ends; write it as "${hi}-${lo}"`,
      );
    }
    ranges.push([lo, hi]);
  }
  return new ClassRange(ranges);
}

/** Accepts the forms callers tend to have at hand: a spec string, a list of ids, or a parsed range. */
export function toClassRange(classes: string | readonly number[] | ClassRange): ClassRange {
  if (classes instanceof ClassRange) return classes;
  if (typeof classes === 'string') return parseClassRange(classes);
  return new ClassRange(classes.map((c) => [c, c] as const));
}
