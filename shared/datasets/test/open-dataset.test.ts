import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetError, openDataset } from '../src/index.js';
import { makeTempDir, writeCub } from './fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await makeTempDir());
});
afterEach(() => cleanup());

describe('openDataset', () => {
  it('opens a CUB directory', async () => {
    await writeCub(dir, {});
    const ds = await openDataset(dir);
    expect(ds.items).toHaveLength(5);
    expect(ds.items[0].className).toBe('001.Alpha');
  });

  it('opens a CUB directory given as a file:// URL', async () => {
    await writeCub(dir, {});
    expect((await openDataset(pathToFileURL(dir).href)).source).toBe(dir);
  });

  it.each(['m.jsonl', 'm.ndjson', 'M.JSONL'])('opens a %s manifest', async (name) => {
    const file = path.join(dir, name);
    await writeFile(file, `${JSON.stringify({ id: '1', uri: 'a.jpg', label: 4 })}\n`);
    const ds = await openDataset(file);
    expect(ds.items).toEqual([{ id: '1', uri: path.join(dir, 'a.jpg'), label: 4 }]);
  });

  const rejects = async (target: string, what: string) => {
    const err = await openDataset(target).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatasetError);
    expect((err as Error).message).toContain(what);
    expect((err as Error).message).toContain('images.txt');
    expect((err as Error).message).toContain('.jsonl');
  };

  it('explains what is accepted for a directory without images.txt', async () => {
    await mkdir(path.join(dir, 'empty'));
    await rejects(path.join(dir, 'empty'), 'directory without images.txt');
  });

  it('explains what is accepted for another kind of file', async () => {
    await writeFile(path.join(dir, 'list.csv'), 'id,uri\n');
    await rejects(path.join(dir, 'list.csv'), 'not a recognised dataset');
  });

  it('explains what is accepted for a missing path', async () => {
    await rejects(path.join(dir, 'missing.jsonl'), 'does not exist');
  });

  it('refuses remote locations', async () => {
    await rejects('s3://bucket/m.jsonl', 'remote datasets are not supported');
  });
});
