// The hostile-manifest catalogue against the real reader: real files and symbolic links in a temp
// dir, a real HTTP server on 127.0.0.1 (counting what it receives), the S3 test server. Each
// hostile input fails alone with its code, and what was opened (or requested) is asserted too.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type S3TestServer, startS3Server } from '@embedcam/test-support/s3-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Every open/stat of a file is recorded, so the tests can assert that nothing outside the roots
// was touched (not only that the message says so).
const touched = vi.hoisted(() => [] as string[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...fs,
    open: (p: string, ...rest: unknown[]) => {
      touched.push(String(p));
      return (fs.open as (...a: unknown[]) => unknown)(p, ...rest);
    },
    stat: (p: string, ...rest: unknown[]) => {
      touched.push(String(p));
      return (fs.stat as (...a: unknown[]) => unknown)(p, ...rest);
    },
  };
});

const {
  createS3Client,
  ForbiddenInputError,
  InputConfinement,
  InputReader,
  InputTooLargeError,
  isPrivateAddress,
  redactUserinfo,
  NotFoundError,
  readUri,
  S3Store,
} = await import('../src/index.js');

let root = '';
let dataset = '';
let manifest = '';
let outside = '';
let s3: S3TestServer;
let http: Server;
let base = '';
const requests: string[] = [];
const image = Buffer.from('not really an image, but bytes');

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'embedcam-confine-'));
  dataset = path.join(root, 'data');
  outside = path.join(root, 'data2'); // shares a prefix with the dataset dir: must not match it
  await mkdir(path.join(dataset, 'images'), { recursive: true });
  await mkdir(outside);
  manifest = path.join(dataset, 'manifest.jsonl');
  await writeFile(manifest, '');
  await writeFile(path.join(dataset, 'images', 'a.jpg'), image);
  await writeFile(path.join(dataset, 'images', 'big.jpg'), Buffer.alloc(5000, 1));
  await writeFile(path.join(outside, 'secret.jpg'), 'secret');
  await symlink(path.join(outside, 'secret.jpg'), path.join(dataset, 'images', 'link.jpg'));
  await symlink(path.join(outside, 'gone.jpg'), path.join(dataset, 'images', 'dangling.jpg'));
  await symlink(outside, path.join(dataset, 'images', 'dirlink'));
  await symlink(path.join(dataset, 'images', 'a.jpg'), path.join(dataset, 'images', 'inner.jpg'));

  s3 = await startS3Server();
  const store = new S3Store({ ...s3.connection, bucket: s3.bucket });
  await store.put('datasets/cub/img.png', image);
  await store.put('datasets/cub/big.png', Buffer.alloc(5000, 2));
  await store.put('datasets/cub2/img.png', image);
  await store.close();

  http = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/ok/redirect') {
      res.statusCode = 302;
      res.setHeader('location', '/secret/x.jpg');
      res.end();
    } else if (req.url === '/ok/big-declared') {
      res.end(Buffer.alloc(5000, 3));
    } else if (req.url === '/ok/big-streamed') {
      // No Content-Length: only counting the body can catch it.
      res.write(Buffer.alloc(3000, 4));
      res.end(Buffer.alloc(3000, 4));
    } else res.end(image);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  http?.closeAllConnections();
  await new Promise((resolve) => http?.close(resolve));
  await s3?.stop();
  await rm(root, { recursive: true, force: true });
});

beforeEach(() => {
  touched.length = 0;
  requests.length = 0;
});

const code = (err: unknown) => (err as { code?: string }).code;
const fails = (p: Promise<unknown>) =>
  p.then(
    () => expect.fail('the read should fail'),
    (e: unknown) => e,
  );
const touchedOutside = () =>
  touched.filter((p) => p === outside || p.startsWith(`${outside}/`) || p.startsWith('/etc'));

describe('a dataset reader (manifest folder + store, nothing else allowed)', () => {
  const reader = () =>
    new InputReader({ store: { uri: pathToFileURL(path.join(root, 'store')).href }, maxBytes: 1000 });

  it('reads images inside the dataset, also through a link that stays inside', async () => {
    const r = reader();
    expect((await r.read(path.join(dataset, 'images', 'a.jpg'), manifest)).equals(image)).toBe(true);
    expect(
      (await r.read(pathToFileURL(path.join(dataset, 'images', 'inner.jpg')).href, manifest)).equals(image),
    ).toBe(true);
  });

  it.each([
    ['/etc/passwd', '/etc/passwd'],
    ['file:///etc/shadow', 'file:///etc/shadow'],
    ['a ../ escape', 'DATASET/images/../../data2/secret.jpg'],
    ['a sibling with the same prefix (/data2 vs /data)', 'OUTSIDE/secret.jpg'],
    ['a missing file outside (no existence leak)', 'OUTSIDE/nope.jpg'],
    ['a symlink inside the dataset pointing outside', 'DATASET/images/link.jpg'],
    ['a dangling symlink pointing outside', 'DATASET/images/dangling.jpg'],
    ['a path through a linked directory outside', 'DATASET/images/dirlink/secret.jpg'],
    ['a missing file through a linked directory outside', 'DATASET/images/dirlink/nope.jpg'],
  ])('%s → forbidden, before anything outside is opened', async (_, uri) => {
    const target = uri.replace('DATASET', dataset).replace('OUTSIDE', outside);
    const err = await fails(reader().read(target, manifest));
    expect(err).toBeInstanceOf(ForbiddenInputError);
    expect(code(err)).toBe('forbidden');
    expect((err as Error).message).toContain(JSON.stringify(target));
    expect((err as Error).message).toMatch(/EMBEDCAM_ALLOWED_URIS.*--allow/);
    expect(touchedOutside()).toEqual([]);
  });

  it('a missing file inside the dataset is not-found', async () => {
    const err = await fails(reader().read(path.join(dataset, 'images', 'nope.jpg'), manifest));
    expect(err).toBeInstanceOf(NotFoundError);
  });

  it('an oversized local file → too-large, checked by stat before it is opened', async () => {
    const big = path.join(dataset, 'images', 'big.jpg');
    const err = await fails(reader().read(big, manifest));
    expect(err).toBeInstanceOf(InputTooLargeError);
    expect(code(err)).toBe('too-large');
    expect((err as Error).message).toMatch(/5000 bytes.*EMBEDCAM_MAX_READ_BYTES/);
    expect(touched.filter((p) => p === big)).toHaveLength(1); // the stat, no open
  });

  it('EMBEDCAM_ALLOWED_URIS roots open more, by whole path segments', async () => {
    const r = new InputReader({ allowed: [outside] });
    expect((await r.read(path.join(outside, 'secret.jpg'), manifest)).toString()).toBe('secret');
    expect((await r.read(path.join(dataset, 'images', 'link.jpg'), manifest)).toString()).toBe('secret');
    const narrow = new InputReader({ allowed: [path.join(root, 'dat')] });
    expect(code(await fails(narrow.read(path.join(outside, 'secret.jpg'), manifest)))).toBe('forbidden');
  });

  it('what a descriptor really opened is checked again (a parent swapped for a link after the check)', async () => {
    const confine = await InputConfinement.create([dataset]);
    expect(() => confine.checkOpened(path.join(dataset, 'images', 'a.jpg'), 'a.jpg')).not.toThrow();
    let err: unknown;
    try {
      confine.checkOpened(path.join(outside, 'secret.jpg'), 'images/a.jpg');
    } catch (e) {
      err = e;
    }
    expect(code(err)).toBe('forbidden');
    // A real read passes the check on the path it opened.
    expect((await readUri(path.join(dataset, 'images', 'a.jpg'), { confine })).length).toBeGreaterThan(0);
  });

  it('s3 and http inputs are forbidden unless allowed, without any request', async () => {
    const client = createS3Client(s3.connection);
    const send = vi.spyOn(client, 'send');
    try {
      const confine = await InputConfinement.create([dataset]);
      const err = await fails(readUri(`s3://other-bucket/key.jpg`, { confine, s3Client: client }));
      expect(code(err)).toBe('forbidden');
      expect(code(await fails(readUri(`${base}/x.jpg`, { confine })))).toBe('forbidden');
      expect(send).not.toHaveBeenCalled();
      expect(requests).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});

describe('s3 roots', () => {
  it('bucket and key prefix by whole segments; ContentLength over the limit → too-large', async () => {
    const client = createS3Client(s3.connection);
    const send = vi.spyOn(client, 'send');
    try {
      const confine = await InputConfinement.create([`s3://${s3.bucket}/datasets/cub`]);
      const opts = { confine, s3Client: client, maxBytes: 1000 };
      expect((await readUri(`s3://${s3.bucket}/datasets/cub/img.png`, opts)).equals(image)).toBe(true);
      expect(send).toHaveBeenCalledTimes(1);
      for (const uri of [
        `s3://${s3.bucket}/datasets/cub2/img.png`,
        `s3://${s3.bucket}/datasets/cub/../cub2/img.png`,
        `s3://other-bucket/datasets/cub/img.png`,
      ]) {
        expect(code(await fails(readUri(uri, opts))), uri).toBe('forbidden');
      }
      expect(send).toHaveBeenCalledTimes(1);
      const err = await fails(readUri(`s3://${s3.bucket}/datasets/cub/big.png`, opts));
      expect(err).toBeInstanceOf(InputTooLargeError);
    } finally {
      client.destroy();
    }
  });

  it('the store is a root: an s3 store with a prefix', async () => {
    const r = new InputReader({ store: { uri: `s3://${s3.bucket}/datasets` } });
    const confine = await r.confinement(manifest);
    expect(() => confine.checkS3(s3.bucket, 'datasets/cub/img.png', 'u')).not.toThrow();
    expect(() => confine.checkS3(s3.bucket, 'datasets2/img.png', 'u')).toThrow(ForbiddenInputError);
  });
});

describe('http(s) inputs', () => {
  it('a loopback URL is refused even when its name is allowed: localhost resolves to 127.0.0.1', async () => {
    const port = new URL(base).port;
    const confine = await InputConfinement.create([`http://localhost:${port}/ok`]);
    const err = await fails(readUri(`http://localhost:${port}/ok/x.jpg`, { confine }));
    expect(code(err)).toBe('forbidden');
    expect((err as Error).message).toMatch(/resolves to (127\.0\.0\.1|::1).*loopback/);
    expect(requests).toEqual([]);
  });

  it('a root naming the address explicitly allows it; paths are normalized before matching', async () => {
    const confine = await InputConfinement.create([`${base}/ok`]);
    expect((await readUri(`${base}/ok/x.jpg`, { confine })).equals(image)).toBe(true);
    expect((await readUri(`${base.replace('http', 'HTTP')}/ok/%61.jpg`, { confine })).equals(image)).toBe(
      true,
    );
    expect(requests).toEqual(['/ok/x.jpg', '/ok/%61.jpg']); // matched as /ok/a.jpg, sent as written
    requests.length = 0;
    for (const p of [
      '/ok/../secret/x.jpg',
      '/ok%2F..%2Fsecret/x.jpg',
      '/okay/x.jpg',
      '/OK/x.jpg',
      '/%2e%2e/x.jpg',
    ]) {
      expect(code(await fails(readUri(`${base}${p}`, { confine }))), p).toBe('forbidden');
    }
    expect(
      code(await fails(readUri(`http://[::ffff:127.0.0.1]:${new URL(base).port}/ok/x.jpg`, { confine }))),
    ).toBe('forbidden');
    expect(requests).toEqual([]);
  });

  it('a redirect out of the roots is not followed', async () => {
    const confine = await InputConfinement.create([`${base}/ok`]);
    const err = await fails(readUri(`${base}/ok/redirect`, { confine }));
    expect(code(err)).toBe('forbidden');
    expect(requests).toEqual(['/ok/redirect']);
  });

  it('an oversized body → too-large, by Content-Length and by counting a chunked body', async () => {
    const confine = await InputConfinement.create([`${base}/ok`]);
    const declared = await fails(readUri(`${base}/ok/big-declared`, { confine, maxBytes: 1000 }));
    expect(code(declared)).toBe('too-large');
    expect((declared as Error).message).toMatch(/Content-Length/);
    const streamed = await fails(readUri(`${base}/ok/big-streamed`, { confine, maxBytes: 4000 }));
    expect(code(streamed)).toBe('too-large');
  });

  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['0.0.0.0', true],
    ['10.1.2.3', true],
    ['172.16.0.1', true],
    ['172.31.255.255', true],
    ['172.32.0.1', false],
    ['192.168.1.1', true],
    ['169.254.169.254', true],
    ['::1', true],
    ['::', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['fc00::1', true],
    ['fd12:3456::1', true],
    ['fe80::1', true],
    ['2002:7f00:1::1', true], // 6to4 of 127.0.0.1
    ['2001:0:4136:e378::1', true], // Teredo
    ['64:ff9b:1::a', true],
    ['8.8.8.8', false],
    ['2606:4700::1111', false],
  ])('isPrivateAddress(%s) = %s', (address, expected) => {
    expect(isPrivateAddress(address)).toBe(expected);
  });
});

describe('redactUserinfo', () => {
  it('hides credentials of a root in messages, and leaves other roots alone', () => {
    expect(redactUserinfo('https://user:secret@host/path')).toBe('https://***@host/path');
    expect(redactUserinfo('s3://bucket/prefix')).toBe('s3://bucket/prefix');
    expect(redactUserinfo('/data/a@b')).toBe('/data/a@b');
  });
});
