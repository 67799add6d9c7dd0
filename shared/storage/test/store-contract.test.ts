// One contract, two stores: every behaviour the pipeline relies on must hold for the local
// directory store and for S3 alike (DESIGN.md §3, "one interface; the pipeline does not care").
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type S3TestServer, startS3Server } from '@embedcam/test-support/s3-server';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  InvalidKeyError,
  LocalStore,
  NotFoundError,
  type ObjectStore,
  S3Store,
  StorageError,
} from '../src/index.js';
import { binaryFixture, collect, mapLimit, sortedList, traceCommands } from './helpers.js';

interface StoreFactory {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh, empty store (its own directory or key prefix). */
  create(): ObjectStore;
  /** A store any real I/O on would fail with something other than InvalidKeyError. */
  unreachable(): ObjectStore;
  /** S3 only: the command names the store's client sends from now on. */
  trace?(store: ObjectStore): string[];
}

let localBase = '';
let localCount = 0;
const localFactory: StoreFactory = {
  name: 'LocalStore',
  async setup() {
    localBase = await mkdtemp(path.join(tmpdir(), 'embedcam-local-contract-'));
    await writeFile(path.join(localBase, 'a-file'), 'not a directory');
  },
  async teardown() {
    await rm(localBase, { recursive: true, force: true });
  },
  create: () => new LocalStore(path.join(localBase, `store-${localCount++}`)),
  // Its root lies under a regular file, so any fs call fails with ENOTDIR.
  unreachable: () => new LocalStore(path.join(localBase, 'a-file', 'root')),
};

let server: S3TestServer | undefined;
let s3Count = 0;
const s3Factory: StoreFactory = {
  name: 'S3Store',
  async setup() {
    server = await startS3Server();
  },
  async teardown() {
    await server?.stop();
  },
  create: () =>
    new S3Store({
      ...server!.connection,
      bucket: server!.bucket,
      prefix: `contract-${s3Count++}-${randomBytes(3).toString('hex')}`,
    }),
  // Port 9 (discard) on localhost refuses connections; one attempt keeps a failure fast.
  unreachable: () =>
    new S3Store({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      maxAttempts: 1,
      bucket: 'unreachable-bucket',
    }),
  trace: (store) => traceCommands((store as S3Store).client),
};

const INVALID_KEYS = [
  '',
  '/absolute',
  'a/../b',
  '..',
  './a',
  'a\\b',
  'a\0b',
  'a//b',
  'dir/',
  'x'.repeat(1025),
  'é'.repeat(513), // 513 characters but 1,026 UTF-8 bytes
];

describe.each([localFactory, s3Factory])('$name contract', (factory) => {
  const opened: ObjectStore[] = [];
  const fresh = () => {
    const store = factory.create();
    opened.push(store);
    return store;
  };

  beforeAll(() => factory.setup());
  afterEach(() => {
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await factory.teardown();
  });

  it('round-trips binary data byte for byte', async () => {
    const store = fresh();
    const data = binaryFixture();
    await store.put('bin/data.bin', data, { contentType: 'application/octet-stream' });
    const got = await store.get('bin/data.bin');
    expect(Buffer.isBuffer(got)).toBe(true);
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
  });

  it('accepts a plain Uint8Array and an empty body', async () => {
    const store = fresh();
    const bytes = new Uint8Array([0, 255, 1, 254, 128]);
    await store.put('u8', bytes);
    await store.put('empty', Buffer.alloc(0));
    expect([...(await store.get('u8'))]).toEqual([0, 255, 1, 254, 128]);
    expect((await store.get('empty')).length).toBe(0);
    expect(await store.exists('empty')).toBe(true);
  });

  it('stores strings as UTF-8', async () => {
    const store = fresh();
    const text = 'heatmap ✓ — Größe 🌍\nline 2';
    await store.put('notes/readme.txt', text, { contentType: 'text/plain; charset=utf-8' });
    const got = await store.get('notes/readme.txt');
    expect(got.length).toBe(Buffer.byteLength(text, 'utf8'));
    expect(got.toString('utf8')).toBe(text);
  });

  it('overwrites an existing key', async () => {
    const store = fresh();
    await store.put('runs/r1/report.json', '{"v":1,"long":"first version is longer"}');
    await store.put('runs/r1/report.json', '{"v":2}');
    expect((await store.get('runs/r1/report.json')).toString()).toBe('{"v":2}');
    expect(await collect(store.list('runs/'))).toEqual(['runs/r1/report.json']);
  });

  it('throws a permanent NotFoundError naming the key and the store for a missing key', async () => {
    const store = fresh();
    await store.put('present', 'x');
    const err = await store.get('missing/key.png').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toBeInstanceOf(StorageError);
    const nf = err as NotFoundError;
    expect(nf.permanent).toBe(true);
    expect(nf.key).toBe('missing/key.png');
    expect(nf.message).toContain('missing/key.png');
    expect(nf.message).toContain(store.uri);
  });

  it('getOrNull returns null for a missing key and the bytes otherwise', async () => {
    const store = fresh();
    expect(await store.getOrNull('nope')).toBeNull();
    await store.put('yes', 'bytes');
    expect((await store.getOrNull('yes'))?.toString()).toBe('bytes');
  });

  it('exists tracks put and delete', async () => {
    const store = fresh();
    expect(await store.exists('a/b.bin')).toBe(false);
    await store.put('a/b.bin', 'x');
    expect(await store.exists('a/b.bin')).toBe(true);
    // A "directory" is not an object.
    expect(await store.exists('a')).toBe(false);
    await store.delete('a/b.bin');
    expect(await store.exists('a/b.bin')).toBe(false);
  });

  it('delete removes only that key and tolerates missing keys', async () => {
    const store = fresh();
    await store.put('d/one', '1');
    await store.put('d/two', '2');
    await store.delete('d/one');
    await expect(store.get('d/one')).rejects.toBeInstanceOf(NotFoundError);
    expect((await store.get('d/two')).toString()).toBe('2');
    await expect(store.delete('d/one')).resolves.toBeUndefined();
    await expect(store.delete('never/was')).resolves.toBeUndefined();
    expect(await sortedList(store, '')).toEqual(['d/two']);
  });

  it('lists keys by string prefix, as S3 does', async () => {
    const store = fresh();
    const keys = [
      'runs/1/a.png',
      'runs/1/sub/b.png',
      'runs/10/c.png',
      'runs/2/d.png',
      'proxies/x.bin',
      'top.txt',
    ];
    await Promise.all(keys.map((k) => store.put(k, k)));
    expect(await sortedList(store, '')).toEqual([...keys].sort());
    expect(await sortedList(store, 'runs/1/')).toEqual(['runs/1/a.png', 'runs/1/sub/b.png']);
    expect(await sortedList(store, 'runs/1')).toEqual(['runs/1/a.png', 'runs/1/sub/b.png', 'runs/10/c.png']);
    expect(await sortedList(store, 'runs/1/sub/b')).toEqual(['runs/1/sub/b.png']);
    expect(await sortedList(store, 't')).toEqual(['top.txt']);
    expect(await sortedList(store, 'nothing/')).toEqual([]);
  });

  it('lists more than 1,000 keys (S3 pagination)', async () => {
    const store = fresh();
    const keys = Array.from({ length: 1050 }, (_, i) => `many/${String(i).padStart(4, '0')}.txt`);
    await mapLimit(keys, 32, (k) => store.put(k, k.slice(5, 9)));
    await store.put('other/outside.txt', 'x');
    const commands = factory.trace?.(store);
    const listed = await collect(store.list('many/'));
    expect(listed.length).toBe(1050);
    expect(new Set(listed).size).toBe(1050);
    expect([...listed].sort()).toEqual(keys);
    if (commands) {
      // 1,050 keys need at least two ListObjectsV2 pages.
      expect(commands.filter((c) => c === 'ListObjectsV2Command').length).toBeGreaterThanOrEqual(2);
    }
  });

  it('stores a large object (> 8 MiB) intact, through a multipart upload on S3', async () => {
    const store = fresh();
    const data = randomBytes(8 * 1024 * 1024 + 12_345);
    const commands = factory.trace?.(store);
    await store.put('big/archive.bin', data);
    const got = await store.get('big/archive.bin');
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
    if (commands) {
      expect(commands).toContain('CreateMultipartUploadCommand');
      expect(commands.filter((c) => c === 'UploadPartCommand').length).toBe(2);
      expect(commands).toContain('CompleteMultipartUploadCommand');
      expect(commands).not.toContain('PutObjectCommand');
    }
  });

  it('round-trips unusual but valid keys', async () => {
    const store = fresh();
    const keys = ['with space/file name.png', 'ünïcödé/日本.jpg', '.hidden', 'a..b/c...d', 'x-y_z=1+2,3;4'];
    await Promise.all(keys.map((k) => store.put(k, k)));
    for (const k of keys) expect((await store.get(k)).toString()).toBe(k);
    expect(await sortedList(store, '')).toEqual([...keys].sort());
  });

  it('rejects invalid keys and prefixes with InvalidKeyError before any I/O', async () => {
    const store = factory.unreachable();
    opened.push(store);
    const commands = factory.trace?.(store);
    for (const key of INVALID_KEYS) {
      await expect(store.put(key, 'x'), `put ${JSON.stringify(key)}`).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get(key), `get ${JSON.stringify(key)}`).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.getOrNull(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.exists(key)).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidKeyError);
    }
    for (const prefix of ['/abs', '../', 'a/../', 'a//', 'a\\b']) {
      await expect(collect(store.list(prefix)), `list ${prefix}`).rejects.toBeInstanceOf(InvalidKeyError);
    }
    if (commands) expect(commands).toEqual([]);
    // The same store does fail on I/O, with a different error: so the checks above ran first.
    const ioError = await store.put('valid/key', 'x').catch((e: unknown) => e);
    expect(ioError).toBeInstanceOf(StorageError);
    expect(ioError).not.toBeInstanceOf(InvalidKeyError);
  });
});
