import type { DatasetItem } from './types.js';

/** Counts for logs; plain objects so it JSON-serialises as-is. */
export interface DatasetSummary {
  total: number;
  classCount: number;
  /** Class id → item count, keys in ascending class order. */
  perClass: Record<number, number>;
  /** Split → item count; items without a split are counted under "(none)". */
  perSplit: Record<string, number>;
  minPerClass: number;
  maxPerClass: number;
}

export function summarizeDataset(items: readonly DatasetItem[]): DatasetSummary {
  const classCounts = new Map<number, number>();
  const perSplit: Record<string, number> = {};
  for (const item of items) {
    classCounts.set(item.label, (classCounts.get(item.label) ?? 0) + 1);
    const split = item.split ?? '(none)';
    perSplit[split] = (perSplit[split] ?? 0) + 1;
  }
  const perClass: Record<number, number> = {};
  for (const label of [...classCounts.keys()].sort((a, b) => a - b))
    perClass[label] = classCounts.get(label)!;
  const counts = [...classCounts.values()];
  return {
    total: items.length,
    classCount: classCounts.size,
    perClass,
    perSplit,
    minPerClass: counts.length > 0 ? Math.min(...counts) : 0,
    maxPerClass: counts.length > 0 ? Math.max(...counts) : 0,
  };
}

/** One line for logs, e.g. "1701 items, 30 classes (41-60 per class); train 900, test 801". */
export function formatSummary(summary: DatasetSummary): string {
  const splits = Object.entries(summary.perSplit)
    .map(([split, n]) => `${split} ${n}`)
    .join(', ');
  return `${summary.total} items, ${summary.classCount} classes (${summary.minPerClass}-${summary.maxPerClass} per class)${splits ? `; ${splits}` : ''}`;
}
