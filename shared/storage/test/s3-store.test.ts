// Behaviour specific to S3: prefixes, content types, buckets, environment configuration.
import { randomBytes } from 'node:crypto';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { type S3TestServer, startS3Server } from '@embedcam/test-support/s3-server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureBucket, NotFoundError, openStore, S3Store, StorageError } from '../src/index.js';
import { sortedList } from './helpers.js';

let server: S3TestServer;
const stores: S3Store[] = [];
const store = (config: { bucket?: string; prefix?: string } = {}) => {
  const s = new S3Store({ ...server.connection, bucket: server.bucket, ...config });
  stores.push(s);
  return s;
};

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.stop();
});

describe('S3Store', () => {
  it('keeps a prefixed store under its prefix and hides it from keys', async () => {
    const id = randomBytes(4).toString('hex');
    const scoped = store({ prefix: `/scoped-${id}/runs/` });
    expect(scoped.prefix).toBe(`scoped-${id}/runs`);
    expect(scoped.uri).toBe(`s3://${server.bucket}/scoped-${id}/runs`);
    await scoped.put('r1/report.json', '{}');
    const root = store();
    await root.put(`scoped-${id}/outside.txt`, 'not in the scoped store');
    expect(await root.exists(`scoped-${id}/runs/r1/report.json`)).toBe(true);
    expect(await sortedList(scoped, '')).toEqual(['r1/report.json']);
    expect(await sortedList(root, `scoped-${id}/`)).toEqual([
      `scoped-${id}/outside.txt`,
      `scoped-${id}/runs/r1/report.json`,
    ]);
  });

  it('records the content type', async () => {
    const s = store();
    await s.put('typed/heatmap.png', Buffer.from([0x89, 0x50]), { contentType: 'image/png' });
    const head = await s.client.send(
      new HeadObjectCommand({ Bucket: server.bucket, Key: 'typed/heatmap.png' }),
    );
    expect(head.ContentType).toBe('image/png');
  });

  it('ensureBucket creates a missing bucket and is idempotent', async () => {
    const bucket = `embedcam-extra-${randomBytes(4).toString('hex')}`;
    const s = store({ bucket });
    const before = await s.get('k').catch((e: unknown) => e);
    expect(before).toBeInstanceOf(NotFoundError);
    expect((before as Error).message).toMatch(/bucket does not exist/);
    await ensureBucket({ ...server.connection, bucket });
    await s.ensureBucket();
    await s.put('k', 'v');
    expect((await s.get('k')).toString()).toBe('v');
  });

  it('reports an unreachable endpoint as a retryable StorageError naming the store', async () => {
    const s = new S3Store({
      ...server.connection,
      endpoint: 'http://127.0.0.1:9',
      maxAttempts: 1,
      bucket: 'b-unreachable',
    });
    stores.push(s);
    const err = await s.get('some/key').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageError);
    expect(err).not.toBeInstanceOf(NotFoundError);
    expect((err as StorageError).permanent).toBe(false);
    expect((err as Error).message).toContain('s3://b-unreachable');
    expect((err as Error).message).toContain('"some/key"');
  });

  it('rejects a bad bucket name when the store is built', () => {
    expect(() => store({ bucket: 'Bad_Bucket' })).toThrow(/Invalid S3 bucket name/);
  });

  it('takes endpoint, credentials and region from the environment by default', async () => {
    vi.stubEnv('S3_ENDPOINT', server.endpoint);
    vi.stubEnv('S3_FORCE_PATH_STYLE', 'true');
    vi.stubEnv('AWS_REGION', server.connection.region ?? 'us-east-1');
    vi.stubEnv(
      'AWS_ACCESS_KEY_ID',
      server.connection.credentials?.accessKeyId ?? process.env.AWS_ACCESS_KEY_ID,
    );
    vi.stubEnv(
      'AWS_SECRET_ACCESS_KEY',
      server.connection.credentials?.secretAccessKey ?? process.env.AWS_SECRET_ACCESS_KEY,
    );
    try {
      const s = openStore(`s3://${server.bucket}/from-env`);
      expect(s).toBeInstanceOf(S3Store);
      stores.push(s as S3Store);
      await s.put('x.txt', 'via env');
      expect((await store().get('from-env/x.txt')).toString()).toBe('via env');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
