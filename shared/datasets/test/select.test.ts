import { describe, expect, it } from 'vitest';
import {
  type Dataset,
  type DatasetItem,
  formatSummary,
  orderItems,
  SelectionError,
  selectItems,
  splitByClassRange,
  summarizeDataset,
} from '../src/index.js';

const item = (id: string, label: number, split?: string): DatasetItem => ({
  id,
  uri: `/d/${id}.jpg`,
  label,
  ...(split ? { split } : {}),
});

// Deliberately shuffled: selection must not depend on input order.
const items: DatasetItem[] = [
  item('10', 2, 'test'),
  item('2', 1, 'test'),
  item('1', 1, 'train'),
  item('11', 3, 'train'),
  item('3', 1, 'train'),
  item('20', 2, 'train'),
  item('4', 2, 'test'),
];
const ds: Dataset = { name: 't', source: '/d', items, classes: new Map() };
const ids = (xs: DatasetItem[]) => xs.map((x) => x.id);

describe('orderItems', () => {
  it('orders numeric ids numerically', () => {
    expect(ids(orderItems(items))).toEqual(['1', '2', '3', '4', '10', '11', '20']);
  });

  it('orders other ids lexically (code-unit order)', () => {
    const mixed = [item('b', 1), item('a10', 1), item('a2', 1), item('B', 1), item('7', 1)];
    expect(ids(orderItems(mixed))).toEqual(['7', 'B', 'a10', 'a2', 'b']);
  });

  it('does not mutate its input', () => {
    const copy = [...items];
    orderItems(items);
    expect(items).toEqual(copy);
  });
});

describe('selectItems', () => {
  it('returns everything ordered by default', () => {
    expect(ids(selectItems(ds))).toEqual(['1', '2', '3', '4', '10', '11', '20']);
    expect(ids(selectItems(items))).toEqual(['1', '2', '3', '4', '10', '11', '20']);
  });

  it('filters by split', () => {
    expect(ids(selectItems(ds, { split: 'train' }))).toEqual(['1', '3', '11', '20']);
  });

  it('refuses a split no item has, listing those present', () => {
    expect(() => selectItems(ds, { split: 'tset' })).toThrow(/"tset".*test, train/);
  });

  it('filters by class range string and by class list', () => {
    expect(ids(selectItems(ds, { classes: '2-3' }))).toEqual(['4', '10', '11', '20']);
    expect(ids(selectItems(ds, { classes: [1, 3] }))).toEqual(['1', '2', '3', '11']);
  });

  it('refuses classes the dataset does not have, listing the missing ones and its classes', () => {
    expect(() => selectItems(ds, { classes: '1-999' })).toThrow(
      'class range "1-999" asks for classes the dataset does not have (4-999); its classes are 1-3',
    );
    expect(() => selectItems(ds, { classes: [0, 2, 7] })).toThrow(
      'class range "0,2,7" asks for classes the dataset does not have (0,7); its classes are 1-3',
    );
    expect(() => selectItems(ds, { classes: '1-3' })).not.toThrow();
  });

  it('filters by ids and rejects unknown ids', () => {
    expect(ids(selectItems(ds, { ids: ['20', '1'] }))).toEqual(['1', '20']);
    expect(() => selectItems(ds, { ids: ['1', '99'] })).toThrow(/"99"/);
  });

  it('applies limit after filtering', () => {
    expect(ids(selectItems(ds, { split: 'test', limit: 2 }))).toEqual(['2', '4']);
    expect(ids(selectItems(ds, { limit: 0 }))).toEqual([]);
  });

  it('takes the first N per class, before the limit', () => {
    expect(ids(selectItems(ds, { perClass: 1 }))).toEqual(['1', '4', '11']);
    expect(ids(selectItems(ds, { perClass: 2 }))).toEqual(['1', '2', '4', '10', '11']);
    expect(ids(selectItems(ds, { perClass: 2, limit: 3 }))).toEqual(['1', '2', '4']);
    expect(ids(selectItems(ds, { perClass: 1, split: 'train' }))).toEqual(['1', '11', '20']);
  });

  it.each([{ limit: -1 }, { limit: 1.5 }, { perClass: 0 }])('rejects %j', (opts) => {
    expect(() => selectItems(ds, opts)).toThrow(SelectionError);
  });

  it('combines all options', () => {
    expect(ids(selectItems(ds, { classes: '1-2', split: 'test', perClass: 1, limit: 5 }))).toEqual([
      '2',
      '4',
    ]);
  });
});

describe('splitByClassRange', () => {
  it('splits by class, ignoring the official split', () => {
    const { train, test } = splitByClassRange(ds, '1', '2-3');
    expect(ids(train)).toEqual(['1', '2', '3']);
    expect(ids(test)).toEqual(['4', '10', '11', '20']);
  });

  it('refuses overlapping ranges', () => {
    expect(() => splitByClassRange(ds, '1-2', '2-3')).toThrow(/overlap on 2-2/);
  });
});

describe('summarizeDataset', () => {
  it('counts per class and per split', () => {
    const s = summarizeDataset([...items, item('x', 3)]);
    expect(s).toEqual({
      total: 8,
      classCount: 3,
      perClass: { 1: 3, 2: 3, 3: 2 },
      perSplit: { test: 3, train: 4, '(none)': 1 },
      minPerClass: 2,
      maxPerClass: 3,
    });
    expect(formatSummary(s)).toBe('8 items, 3 classes (2-3 per class); test 3, train 4, (none) 1');
  });

  it('handles an empty list', () => {
    expect(summarizeDataset([])).toMatchObject({ total: 0, classCount: 0, minPerClass: 0, maxPerClass: 0 });
  });
});
