import { type ClassRange, SelectionError, toClassRange } from './class-range.js';
import { orderItems } from './order-items.js';
import type { Dataset, DatasetItem } from './types.js';

export interface SelectOptions {
  /** Class ids to keep: a range spec ("1-10,15"), a list of ids, or a parsed ClassRange. */
  classes?: string | readonly number[] | ClassRange;
  /** Keep only items with this split (e.g. 'train' / 'test'). */
  split?: string;
  /** Keep only these ids. Unknown ids are an error (almost always a typo). */
  ids?: readonly string[];
  /** Keep the first N items of each class (in id order), after the filters above. */
  perClass?: number;
  /** Keep the first N items overall, applied last. */
  limit?: number;
}

/**
 * Filters a dataset deterministically. Order: see orderItems (numeric id when all ids are numeric,
 * else lexical). Steps: ids, classes, split filters → perClass → limit.
 */
export function selectItems(
  source: Dataset | readonly DatasetItem[],
  options: SelectOptions = {},
): DatasetItem[] {
  const all = 'items' in source ? source.items : source;
  checkCount('limit', options.limit, 0);
  checkCount('perClass', options.perClass, 1);
  let items = orderItems(all);

  if (options.ids !== undefined) {
    const wanted = new Set(options.ids);
    const present = new Set(all.map((i) => i.id));
    const unknown = [...wanted].filter((id) => !present.has(id));
    if (unknown.length > 0) {
      const shown = unknown.slice(0, 5).map((id) => `"${id}"`);
      const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : '';
      throw new SelectionError(`ids not in the dataset: ${shown.join(', ')}${more}; check the ids`);
    }
    items = items.filter((i) => wanted.has(i.id));
  }
  if (options.classes !== undefined) {
    const range = toClassRange(options.classes);
    checkClassesPresent(range, all);
    items = items.filter((i) => range.has(i.label));
  }
  if (options.split !== undefined) {
    const split = options.split;
    // A split no item has is a typo ("tset"), not an empty selection.
    const splits = new Set(all.map((i) => i.split).filter((s) => s !== undefined));
    if (!splits.has(split)) {
      const known = splits.size > 0 ? [...splits].sort().join(', ') : 'none (no item has a split)';
      throw new SelectionError(`no item has split "${split}"; splits present: ${known}`);
    }
    items = items.filter((i) => i.split === split);
  }
  if (options.perClass !== undefined) {
    const perClass = options.perClass;
    const taken = new Map<number, number>();
    items = items.filter((i) => {
      const n = taken.get(i.label) ?? 0;
      taken.set(i.label, n + 1);
      return n < perClass;
    });
  }
  if (options.limit !== undefined) items = items.slice(0, options.limit);
  return items;
}

/**
 * The metric-learning protocol: train on some classes, evaluate on unseen ones (CUB: 1-100 / 101-200).
 * Uses every image of a class whatever its official train/test flag. Overlapping ranges are refused
 * because a class in both would leak training classes into the test set.
 */
export function splitByClassRange(
  source: Dataset | readonly DatasetItem[],
  trainRange: string | readonly number[] | ClassRange,
  testRange: string | readonly number[] | ClassRange,
): { train: DatasetItem[]; test: DatasetItem[] } {
  const train = toClassRange(trainRange);
  const test = toClassRange(testRange);
  for (const [lo, hi] of train.ranges) {
    for (const [tlo, thi] of test.ranges) {
      if (lo <= thi && tlo <= hi) {
        throw new SelectionError(
          `train classes "${train}" and test classes "${test}" overlap on ${Math.max(lo, tlo)}-${Math.min(hi, thi)}; test classes must be unseen in training`,
        );
      }
    }
  }
  const ordered = orderItems('items' in source ? source.items : source);
  return { train: ordered.filter((i) => train.has(i.label)), test: ordered.filter((i) => test.has(i.label)) };
}

/**
 * A class range asking for classes the dataset does not have ("1-999" on 30 classes) is a mistake,
 * not a request for everything: the error lists what is missing and the classes there are.
 */
function checkClassesPresent(range: ClassRange, all: readonly DatasetItem[]): void {
  const present = [...new Set(all.map((i) => i.label))].sort((a, b) => a - b);
  const missing: [number, number][] = [];
  for (const [lo, hi] of range.ranges) {
    let next = lo;
    for (const label of present) {
      if (label < next) continue;
      if (label > hi) break;
      if (label > next) missing.push([next, label - 1]);
      next = label + 1;
    }
    if (next <= hi) missing.push([next, hi]);
  }
  if (missing.length === 0) return;
  throw new SelectionError(
    `class range "${range}" asks for classes the dataset does not have (${rangesText(missing)}); ` +
      `its classes are ${present.length > 0 ? rangesText(compress(present)) : 'none'}`,
  );
}

function compress(sorted: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else out.push([n, n]);
  }
  return out;
}

function rangesText(ranges: readonly (readonly [number, number])[]): string {
  const shown = ranges.slice(0, 8).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`));
  return ranges.length > 8 ? `${shown.join(',')},…` : shown.join(',');
}

function checkCount(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new SelectionError(`${name} must be an integer >= ${min}, got ${value}`);
  }
}
