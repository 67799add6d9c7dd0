import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type S3TestServer, startS3Server } from '@embedcam/test-support/s3-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NotFoundError, readUri, S3Store, StorageError, UnsupportedUriError } from '../src/index.js';
import { binaryFixture } from './helpers.js';

let dir = '';
let s3: S3TestServer;
let http: Server;
let httpBase = '';
const image = binaryFixture(10_000);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'embedcam-read-'));
  await writeFile(path.join(dir, 'img 1.png'), image);
  s3 = await startS3Server();
  const store = new S3Store({ ...s3.connection, bucket: s3.bucket });
  await store.put('datasets/cub/img.png', image);
  await store.close();
  http = createServer((req, res) => {
    if (req.url === '/img.png') res.end(image);
    else if (req.url === '/boom') {
      res.statusCode = 503;
      res.end('unavailable');
    } else if (req.url === '/slow') {
      // never answers: the client must time out
    } else {
      res.statusCode = 404;
      res.end('no');
    }
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpBase = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
  await s3?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('readUri', () => {
  it('reads a plain absolute path, a relative path and a file:// URL', async () => {
    const abs = path.join(dir, 'img 1.png');
    expect((await readUri(abs)).equals(image)).toBe(true);
    expect((await readUri('img 1.png', { cwd: dir })).equals(image)).toBe(true);
    const url = pathToFileURL(abs).href;
    expect(url).toContain('%20');
    expect((await readUri(url)).equals(image)).toBe(true);
  });

  it('throws NotFoundError naming a missing file', async () => {
    const missing = path.join(dir, 'nope.png');
    const err = await readUri(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).permanent).toBe(true);
    expect((err as Error).message).toContain(missing);
    await expect(readUri(pathToFileURL(missing).href)).rejects.toBeInstanceOf(NotFoundError);
    await expect(readUri(dir)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('reads an s3:// URI with explicit connection settings', async () => {
    const got = await readUri(`s3://${s3.bucket}/datasets/cub/img.png`, { s3: s3.connection });
    expect(got.equals(image)).toBe(true);
  });

  it('reads an s3:// URI with the client from the environment', async () => {
    vi.stubEnv('S3_ENDPOINT', s3.endpoint);
    vi.stubEnv('AWS_REGION', s3.connection.region ?? process.env.AWS_REGION);
    vi.stubEnv('AWS_ACCESS_KEY_ID', s3.connection.credentials?.accessKeyId ?? process.env.AWS_ACCESS_KEY_ID);
    vi.stubEnv(
      'AWS_SECRET_ACCESS_KEY',
      s3.connection.credentials?.secretAccessKey ?? process.env.AWS_SECRET_ACCESS_KEY,
    );
    try {
      expect((await readUri(`s3://${s3.bucket}/datasets/cub/img.png`)).equals(image)).toBe(true);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('throws NotFoundError for a missing s3 object', async () => {
    const err = await readUri(`s3://${s3.bucket}/datasets/cub/missing.png`, { s3: s3.connection }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain('datasets/cub/missing.png');
    expect((err as Error).message).toContain(`s3://${s3.bucket}`);
  });

  it('downloads over http, with NotFoundError for 404 and a retryable error for 5xx', async () => {
    expect((await readUri(`${httpBase}/img.png`)).equals(image)).toBe(true);
    await expect(readUri(`${httpBase}/missing.png`)).rejects.toBeInstanceOf(NotFoundError);
    const err = await readUri(`${httpBase}/boom`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect((err as StorageError).permanent).toBe(false);
    expect((err as Error).message).toContain('503');
  });

  it('times out a download that does not answer', async () => {
    const started = Date.now();
    const err = await readUri(`${httpBase}/slow`, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toMatch(/timed out after 200 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it.each([
    ['ftp://host/file', /scheme "ftp:"/],
    ['s3://bucket-only', /bucket and a key/],
    ['s3://Bad_Bucket/key', /Invalid S3 bucket name/],
    ['', /empty/],
  ])('rejects %j', async (uri, reason) => {
    const err = await readUri(uri).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedUriError);
    expect((err as Error).message).toMatch(reason);
  });
});
