import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { CUB_DIR, HAS_CUB } from '@embedcam/test-support/shared-data';
import { describe, expect, it } from 'vitest';
import { openDataset, selectItems, splitByClassRange, summarizeDataset } from '../src/index.js';

// Real CUB-200-2011 subset (classes 1-30) beside the project; not part of the repository.
const subsetDir = CUB_DIR;
const present = HAS_CUB;

describe.skipIf(!present)(`real CUB subset at ${subsetDir}`, async () => {
  const ds = present ? await openDataset(subsetDir) : undefined;

  it('has 1,701 items over 30 classes', () => {
    expect(ds!.items).toHaveLength(1701);
    expect(ds!.classes.size).toBe(30);
    expect(new Set(ds!.items.map((i) => i.label))).toEqual(
      new Set(Array.from({ length: 30 }, (_, i) => i + 1)),
    );
    expect(ds!.classes.get(1)).toBe('001.Black_footed_Albatross');
  });

  it('points every item at an existing image file', async () => {
    const missing: string[] = [];
    await Promise.all(
      ds!.items.map((i) =>
        stat(i.uri).then(
          (s) => {
            if (!s.isFile()) missing.push(i.uri);
          },
          () => missing.push(i.uri),
        ),
      ),
    );
    expect(missing).toEqual([]);
  });

  it('matches train_test_split.txt counts', async () => {
    const flags = (await readFile(path.join(subsetDir, 'train_test_split.txt'), 'utf8')).trim().split('\n');
    const train = flags.filter((l) => l.trim().split(/\s+/)[1] === '1').length;
    const test = flags.filter((l) => l.trim().split(/\s+/)[1] === '0').length;
    expect(train + test).toBe(1701);
    expect(summarizeDataset(ds!.items).perSplit).toEqual({ train, test });
    expect(selectItems(ds!, { split: 'train' })).toHaveLength(train);
  });

  it('has a finite, positive bounding box on every item', () => {
    const isGood = ([x, y, w, h]: number[]) =>
      [x, y, w, h].every(Number.isFinite) && x >= 0 && y >= 0 && w > 0 && h > 0;
    const bad = ds!.items.filter((i) => i.bbox === undefined || !isGood(i.bbox));
    expect(bad).toEqual([]);
  });

  it('supports the class-split protocol and per-class sampling', () => {
    const { train, test } = splitByClassRange(ds!, '1-15', '16-30');
    expect(train.length + test.length).toBe(1701);
    expect(train.every((i) => i.label <= 15) && test.every((i) => i.label >= 16)).toBe(true);
    const few = selectItems(ds!, { perClass: 3 });
    expect(few).toHaveLength(90);
    expect(Object.values(summarizeDataset(few).perClass)).toEqual(Array(30).fill(3));
  });
});
