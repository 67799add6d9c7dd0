// The id rule of names.ts against both stores: a 300-character image id (ENAMETOOLONG as a raw
// file name) is stored and read back under its bounded name on the local store and on S3.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LocalStore, type ObjectStore, S3Store } from '@embedcam/storage';
import { type S3TestServer, startS3Server } from '@embedcam/test-support/s3-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storageKeys } from '../src/names.js';

let dir = '';
let server: S3TestServer | undefined;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'embedcam-names-'));
  server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

const stores: Array<{ name: string; open: () => ObjectStore }> = [
  { name: 'LocalStore', open: () => new LocalStore(dir) },
  {
    name: 'S3Store',
    open: () => new S3Store({ ...server!.connection, bucket: server!.bucket, prefix: 'names-test' }),
  },
];

describe.each(stores)('long image ids on $name', ({ open }) => {
  it('stores a 300-character id, and ids sharing its first 290 characters apart', async () => {
    const store = open();
    try {
      const ids = ['x'.repeat(300), `${'x'.repeat(290)}${'y'.repeat(10)}`, `${'/é'.repeat(150)}`];
      for (const id of ids) {
        await store.put(storageKeys.result('run-1', id), JSON.stringify({ id }));
        await store.put(storageKeys.heatmap('run-1', id), Buffer.from(id));
      }
      for (const id of ids) {
        expect(JSON.parse((await store.get(storageKeys.result('run-1', id))).toString())).toEqual({ id });
        expect((await store.get(storageKeys.heatmap('run-1', id))).toString()).toBe(id);
      }
    } finally {
      await store.close();
    }
  });
});
