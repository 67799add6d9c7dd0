import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DatasetItem, itemToManifestLine, readCub, readManifest, writeManifest } from '../src/index.js';
import { makeTempDir, writeCub } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

describe('itemToManifestLine', () => {
  it('writes keys in a fixed order and omits absent optionals', () => {
    const item: DatasetItem = { split: 'test', bbox: [1, 2, 3, 4], label: 3, uri: '/x/a.jpg', id: '7' };
    expect(itemToManifestLine(item)).toBe(
      '{"id":"7","uri":"/x/a.jpg","label":3,"bbox":[1,2,3,4],"split":"test"}',
    );
    expect(itemToManifestLine({ id: 'a', uri: 's3://b/k', label: 0 })).toBe(
      '{"id":"a","uri":"s3://b/k","label":0}',
    );
  });

  it('refuses an item the reader would refuse', () => {
    expect(() => itemToManifestLine({ id: 'a', uri: '/a.jpg', label: Number.NaN })).toThrow(/"a".*label/);
    expect(() => itemToManifestLine({ id: '', uri: '/a.jpg', label: 1 })).toThrow(/id/);
  });
});

describe('writeManifest', () => {
  it('round-trips a CUB dataset through a manifest', async () => {
    const cubDir = path.join(dir, 'cub');
    await mkdir(cubDir);
    await writeCub(cubDir, {});
    const cub = await readCub(cubDir);
    const file = path.join(dir, 'out', 'nested', 'cub.jsonl'); // parent dirs created
    await writeManifest(cub.items, file);
    const back = await readManifest(file);
    expect(back.items).toEqual(cub.items);
    expect(back.classes).toEqual(cub.classes);
    const text = await readFile(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trim().split('\n')).toHaveLength(cub.items.length);
  });

  it('round-trips remote uris and items without optionals', async () => {
    const items: DatasetItem[] = [
      { id: 'x', uri: 's3://bucket/x.jpg', label: 5 },
      { id: 'y', uri: 'https://h/y.jpg', label: 5, className: 'five', split: 'val' },
    ];
    const file = path.join(dir, 'r.ndjson');
    await writeManifest(items, file);
    expect((await readManifest(file)).items).toEqual(items);
  });

  it('refuses duplicate ids and leaves no file behind', async () => {
    const file = path.join(dir, 'dup.jsonl');
    const item: DatasetItem = { id: 'a', uri: '/a.jpg', label: 1 };
    await expect(writeManifest([item, item], file)).rejects.toThrow('duplicate id "a"');
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });
});
