import type { DatasetItem } from './types.js';

const NUMERIC_ID = /^\d+$/;

/**
 * Returns a sorted copy: by numeric id when every id is a decimal integer (CUB: "2" before "10"),
 * else by plain string comparison (code-unit order, locale-independent so it is the same on
 * every machine). This is the order all selections use.
 */
export function orderItems(items: readonly DatasetItem[]): DatasetItem[] {
  const copy = [...items];
  if (copy.every((i) => NUMERIC_ID.test(i.id))) {
    // BigInt-free: ids up to 15 digits compare exactly as numbers; ties broken lexically ("01" vs "1").
    return copy.sort((a, b) => Number(a.id) - Number(b.id) || compareStrings(a.id, b.id));
  }
  return copy.sort((a, b) => compareStrings(a.id, b.id));
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
