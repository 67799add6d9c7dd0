import { readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Dataset, type DatasetItem, openDataset } from '@embedcam/datasets';
import { CUB_DIR, HAS_CUB } from '@embedcam/test-support/shared-data';
import { describe, expect, it } from 'vitest';
import { protocolSplit } from '../src/index.js';

/** A synthetic dataset: `perClass` images of each class 1..classes, alternating official splits. */
function synthetic(classes: number, perClass: number): Dataset {
  const items: DatasetItem[] = [];
  let id = 1;
  for (let c = 1; c <= classes; c++)
    for (let k = 0; k < perClass; k++, id++)
      items.push({ id: String(id), uri: `/x/${id}.jpg`, label: c, split: k % 2 ? 'test' : 'train' });
  return { name: 'synthetic', source: '/x', items, classes: new Map() };
}

const ids = (items: DatasetItem[]) => items.map((i) => i.id);

describe('protocol split (train classes / unseen test classes)', () => {
  it('takes every image of the ranges, whatever the official split, and keeps them disjoint', () => {
    const ds = synthetic(30, 6);
    const { train, test } = protocolSplit(ds, '1-15', '16-30');
    expect(train).toHaveLength(15 * 6);
    expect(test).toHaveLength(15 * 6);
    expect(new Set(train.map((i) => i.label))).toEqual(new Set(Array.from({ length: 15 }, (_, i) => i + 1)));
    expect(new Set(test.map((i) => i.label))).toEqual(new Set(Array.from({ length: 15 }, (_, i) => i + 16)));
    expect(new Set(train.map((i) => i.split))).toEqual(new Set(['train', 'test']));
    const trainIds = new Set(ids(train));
    expect(ids(test).filter((id) => trainIds.has(id))).toEqual([]);
  });

  it('is parameterised: the full CUB protocol 1-100 / 101-200 on a 200-class manifest', async () => {
    // A JSONL manifest like a full CUB-200-2011 export (one image per class per split here).
    const file = path.join(os.tmpdir(), `embedcam-split-${process.pid}.jsonl`);
    const lines = [];
    for (let c = 1; c <= 200; c++)
      for (const split of ['train', 'test'])
        lines.push(JSON.stringify({ id: `${c}-${split}`, uri: `/x/${c}-${split}.jpg`, label: c, split }));
    await writeFile(file, `${lines.join('\n')}\n`);
    const ds = await openDataset(file).finally(() => rm(file, { force: true }));
    const { train, test } = protocolSplit(ds, '1-100', '101-200');
    expect(train).toHaveLength(200);
    expect(test).toHaveLength(200);
    expect(Math.max(...train.map((i) => i.label))).toBe(100);
    expect(Math.min(...test.map((i) => i.label))).toBe(101);
    // Non-contiguous ranges work too.
    const odd = protocolSplit(ds, '1-50,151-200', '51-150');
    expect(odd.train).toHaveLength(200);
    expect(odd.test.every((i) => i.label >= 51 && i.label <= 150)).toBe(true);
  });

  it('refuses overlapping ranges, a single train class and an empty test side', () => {
    const ds = synthetic(10, 2);
    expect(() => protocolSplit(ds, '1-5', '5-10')).toThrow(/overlap/);
    expect(() => protocolSplit(ds, '1', '2-10')).toThrow(/at least 2/);
    expect(() => protocolSplit(ds, '1-5', '11-20')).toThrow(/no image/);
    expect(() => protocolSplit(ds, '1-x', '6-10')).toThrow(/class range/);
  });

  it.skipIf(!HAS_CUB)('on the shared CUB subset: classes 1-15 / 16-30 hold all 1,701 images', async () => {
    const ds = await openDataset(CUB_DIR);
    const { train, test } = protocolSplit(ds, '1-15', '16-30');
    // Count independently from the official label file.
    const labels = (await readFile(path.join(CUB_DIR, 'image_class_labels.txt'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => Number(l.trim().split(/\s+/)[1]));
    expect(train).toHaveLength(labels.filter((l) => l >= 1 && l <= 15).length);
    expect(test).toHaveLength(labels.filter((l) => l >= 16 && l <= 30).length);
    expect(train.length + test.length).toBe(1701);
  });
});
