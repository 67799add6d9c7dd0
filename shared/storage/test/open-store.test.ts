import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStore, openStore, parseStorageUri, S3Store, UnsupportedUriError } from '../src/index.js';

describe('parseStorageUri', () => {
  it.each([
    ['s3://my-bucket', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/', { kind: 's3', bucket: 'my-bucket', prefix: '' }],
    ['s3://my.bucket-1/runs/2024/', { kind: 's3', bucket: 'my.bucket-1', prefix: 'runs/2024' }],
    ['S3://bkt/p', { kind: 's3', bucket: 'bkt', prefix: 'p' }],
    ['file:///data/store', { kind: 'local', path: '/data/store' }],
    ['file://localhost/data/store', { kind: 'local', path: '/data/store' }],
    ['file:///data/with%20space', { kind: 'local', path: '/data/with space' }],
    ['/abs/dir', { kind: 'local', path: '/abs/dir' }],
    ['/abs/dir/../other/', { kind: 'local', path: '/abs/other' }],
    ['rel/dir', { kind: 'local', path: '/work/rel/dir' }],
    ['./rel', { kind: 'local', path: '/work/rel' }],
    ['../up', { kind: 'local', path: '/up' }],
  ])('parses %j', (uri, expected) => {
    expect(parseStorageUri(uri, { cwd: '/work' })).toEqual(expected);
  });

  it('resolves relative paths against the current directory by default', () => {
    expect(parseStorageUri('data')).toEqual({ kind: 'local', path: path.resolve('data') });
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['s3://', /bucket name/],
    ['s3:///key', /bucket name/],
    ['s3://Bad_Bucket/x', /Invalid S3 bucket name/],
    ['s3://ab/x', /Invalid S3 bucket name/],
    ['s3://bucket/a/../b', /"\.\."/],
    ['s3://bucket/a//b', /empty segments/],
    ['gs://bucket/x', /scheme "gs:"/],
    ['https://example.com/x', /scheme "https:"/],
    ['file://otherhost/data', /must be local/],
  ])('rejects %j with a list of the accepted forms', (uri, reason) => {
    let err: unknown;
    try {
      parseStorageUri(uri);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedUriError);
    const message = (err as Error).message;
    expect(message).toMatch(reason);
    expect(message).toContain(JSON.stringify(uri));
    expect(message).toContain('s3://bucket/prefix');
    expect(message).toContain('file:///absolute/dir');
  });
});

describe('openStore', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'embedcam-open-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('opens an S3 store for s3:// without touching the network', async () => {
    const store = openStore('s3://bucket-name/runs/x/', {
      s3: {
        endpoint: 'http://127.0.0.1:9',
        region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      },
    });
    expect(store).toBeInstanceOf(S3Store);
    expect(store.uri).toBe('s3://bucket-name/runs/x');
    expect((store as S3Store).bucket).toBe('bucket-name');
    expect((store as S3Store).prefix).toBe('runs/x');
    await store.close();
  });

  it('opens the same directory from a file:// URI, an absolute and a relative path', async () => {
    const byPath = openStore(dir);
    const byUrl = openStore(pathToFileURL(dir).href);
    const byRel = openStore(path.basename(dir), { cwd: path.dirname(dir) });
    for (const s of [byPath, byUrl, byRel]) expect(s).toBeInstanceOf(LocalStore);
    await byPath.put('shared/key.txt', 'one store');
    expect((await byUrl.get('shared/key.txt')).toString()).toBe('one store');
    expect((await byRel.get('shared/key.txt')).toString()).toBe('one store');
    // A store's own uri opens it again.
    expect((await openStore(byPath.uri).get('shared/key.txt')).toString()).toBe('one store');
  });
});
