// Behaviour specific to the directory store: the on-disk layout, atomic writes, temp files.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidKeyError, LocalStore, NotFoundError, StorageError, TEMP_FILE_PREFIX } from '../src/index.js';
import { sortedList } from './helpers.js';

let base = '';
let count = 0;
const freshRoot = () => path.join(base, `root-${count++}`);

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'embedcam-local-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function walkFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe('LocalStore', () => {
  it('keeps keys as plain nested files under the root and names itself with a file:// URI', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    expect(store.uri).toBe(pathToFileURL(root).href);
    await store.put('runs/r1/heatmaps/0001.png', 'png bytes');
    expect(await readFile(path.join(root, 'runs', 'r1', 'heatmaps', '0001.png'), 'utf8')).toBe('png bytes');
  });

  it('lists files that other tools put in the directory', async () => {
    const root = freshRoot();
    await mkdir(path.join(root, 'images', 'cats'), { recursive: true });
    await writeFile(path.join(root, 'images', 'cats', '1.jpg'), 'a');
    await writeFile(path.join(root, 'images', '2.jpg'), 'b');
    const store = new LocalStore(root);
    expect(await sortedList(store, 'images/')).toEqual(['images/2.jpg', 'images/cats/1.jpg']);
    expect((await store.get('images/cats/1.jpg')).toString()).toBe('a');
  });

  it('lists nothing (rather than failing) when the root does not exist yet', async () => {
    const store = new LocalStore(path.join(freshRoot(), 'not', 'there'));
    expect(await sortedList(store, '')).toEqual([]);
    expect(await sortedList(store, 'a/b/')).toEqual([]);
  });

  it('never lets a reader see a partly written object', async () => {
    const store = new LocalStore(freshRoot());
    const size = 4 * 1024 * 1024;
    const a = Buffer.alloc(size, 0x41);
    const b = Buffer.alloc(size, 0x42);
    await store.put('hot.bin', a);
    let writing = true;
    const writers = (async () => {
      for (let i = 0; i < 20; i++) await Promise.all([store.put('hot.bin', a), store.put('hot.bin', b)]);
      writing = false;
    })();
    let reads = 0;
    const torn: string[] = [];
    while (writing) {
      const got = await store.get('hot.bin');
      reads++;
      if (!(got.equals(a) || got.equals(b))) torn.push(`read ${reads}: ${got.length} bytes`);
    }
    await writers;
    expect(reads).toBeGreaterThan(0);
    expect(torn).toEqual([]);
    // and no temp files are left behind
    expect(await walkFiles(store.root)).toEqual(['hot.bin']);
  });

  it('skips in-progress temp files when listing and reserves their names', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    await store.put('d/real.txt', 'x');
    await writeFile(path.join(root, 'd', `${TEMP_FILE_PREFIX}abc-real.txt`), 'half');
    expect(await sortedList(store, '')).toEqual(['d/real.txt']);
    await expect(store.put(`d/${TEMP_FILE_PREFIX}x`, 'x')).rejects.toBeInstanceOf(InvalidKeyError);
  });

  it('fails a put permanently where a file stands in for a directory, leaving no temp file', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    await store.put('a', 'file');
    const err = await store.put('a/b', 'x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect((err as StorageError).permanent).toBe(true);
    expect((err as Error).message).toContain('"a/b"');
    expect(await walkFiles(root)).toEqual(['a']);
  });

  it('treats a directory as a missing object', async () => {
    const store = new LocalStore(freshRoot());
    await store.put('dir/file', 'x');
    await expect(store.get('dir')).rejects.toBeInstanceOf(NotFoundError);
    expect(await store.getOrNull('dir')).toBeNull();
    expect(await store.exists('dir')).toBe(false);
    // get of a key below a file is missing too (ENOTDIR)
    await expect(store.get('dir/file/below')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('writes through fsync when asked to', async () => {
    const store = new LocalStore(freshRoot(), { fsync: true });
    await store.put('synced.txt', 'durable');
    expect((await store.get('synced.txt')).toString()).toBe('durable');
  });
});
