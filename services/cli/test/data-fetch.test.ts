// `embedcam data fetch cub` against a local HTTP server serving a small archive of the CUB layout,
// built here with the system tar: download with MD5, resume after a cut transfer, a corrupt
// download, --file, and a target that cannot be written. Caltech itself is not reachable here.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.join(import.meta.dirname, '..', 'bin', 'embedcam.js');

let tmp: string;
let archive: Buffer;
let md5: string;
let server: http.Server;
let base: string;
/** What the server does with the next request for /cut.tgz: send half and drop, or everything. */
let cutNext = true;
const ranges: (string | undefined)[] = [];

function embedcam(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

async function freshHome(): Promise<string> {
  return mkdtemp(path.join(tmp, 'home-'));
}

describe('embedcam data fetch cub', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-fetch-'));
    const src = path.join(tmp, 'src', 'CUB_200_2011');
    await mkdir(path.join(src, 'images', '001.Bird'), { recursive: true });
    await writeFile(path.join(src, 'images.txt'), '1 001.Bird/a.jpg\n');
    await writeFile(path.join(src, 'image_class_labels.txt'), '1 1\n');
    await writeFile(path.join(src, 'classes.txt'), '1 001.Bird\n');
    await writeFile(path.join(src, 'train_test_split.txt'), '1 0\n');
    await writeFile(path.join(src, 'bounding_boxes.txt'), '1 1.0 2.0 3.0 4.0\n');
    // Incompressible bytes, so the archive is big enough to be cut in the middle.
    await writeFile(
      path.join(src, 'images', '001.Bird', 'a.jpg'),
      createHash('sha512').update('x').digest().toString('hex').repeat(4000),
    );
    const tgz = path.join(tmp, 'cub.tgz');
    execFileSync('tar', ['czf', tgz, '-C', path.join(tmp, 'src'), 'CUB_200_2011']);
    archive = await readFile(tgz);
    md5 = createHash('md5').update(archive).digest('hex');
    server = http.createServer((req, res) => {
      const range = req.headers.range;
      if (req.url === '/corrupt.tgz') {
        const bad = Buffer.from(archive);
        bad[bad.length - 20] = (bad[bad.length - 20] ?? 0) ^ 0xff;
        res.writeHead(200, { 'content-length': bad.length }).end(bad);
        return;
      }
      ranges.push(range);
      const from = range ? Number(/bytes=(\d+)-/.exec(range)?.[1]) : 0;
      const body = archive.subarray(from);
      res.writeHead(from > 0 ? 206 : 200, {
        'content-length': body.length,
        ...(from > 0 ? { 'content-range': `bytes ${from}-${archive.length - 1}/${archive.length}` } : {}),
      });
      if (req.url === '/cut.tgz' && cutNext) {
        cutNext = false;
        // Half the body, then the connection drops (after the client has had time to read it).
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => res.destroy(), 500));
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('downloads, checks the MD5, extracts under EMBEDCAM_HOME and prints the path', async () => {
    const home = await freshHome();
    const r = await embedcam(['data', 'fetch', 'cub', '--url', `${base}/ok.tgz`, '--md5', md5], {
      EMBEDCAM_HOME: home,
    });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const dir = path.join(home, 'data', 'CUB_200_2011');
    expect(r.stdout).toBe(`${dir}\n`);
    expect(await readFile(path.join(dir, 'bounding_boxes.txt'), 'utf8')).toBe('1 1.0 2.0 3.0 4.0\n');
    expect((await readFile(path.join(dir, 'images', '001.Bird', 'a.jpg'))).length).toBe(128 * 4000);
  });

  it('an interrupted transfer keeps the partial file and the next run resumes it', async () => {
    const home = await freshHome();
    ranges.length = 0;
    cutNext = true;
    const args = ['data', 'fetch', 'cub', '--url', `${base}/cut.tgz`, '--md5', md5];
    const first = await embedcam(args, { EMBEDCAM_HOME: home });
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(
      /^embedcam: the download from .* stopped at \d+ of \d+ bytes.*run the command again to resume/m,
    );
    expect(first.stderr).not.toMatch(/\n\s+at /);
    const part = path.join(home, 'downloads', 'CUB_200_2011.tgz.part');
    const kept = (await readFile(part)).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(archive.length);
    const second = await embedcam(args, { EMBEDCAM_HOME: home });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`resumed a partial download at ${kept} bytes`);
    expect(ranges).toEqual([undefined, `bytes=${kept}-`]);
    expect(
      createHash('md5')
        .update(await readFile(path.join(home, 'downloads', 'CUB_200_2011.tgz')))
        .digest('hex'),
    ).toBe(md5);
  });

  it('a checksum mismatch fails with one line and removes the bad download', async () => {
    const home = await freshHome();
    const r = await embedcam(['data', 'fetch', 'cub', '--url', `${base}/corrupt.tgz`, '--md5', md5], {
      EMBEDCAM_HOME: home,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`^embedcam: the download from .* has MD5 [0-9a-f]{32}, not ${md5}; the file was removed`),
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await expect(readFile(path.join(home, 'downloads', 'CUB_200_2011.tgz.part'))).rejects.toThrow(/ENOENT/);
  });

  it('--file extracts an archive already on disk', async () => {
    const home = await freshHome();
    const r = await embedcam(['data', 'fetch', 'cub', '--file', path.join(tmp, 'cub.tgz')], {
      EMBEDCAM_HOME: home,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('is not the official archive');
    expect(r.stdout).toBe(`${path.join(home, 'data', 'CUB_200_2011')}\n`);
  });

  it('a home that cannot be written: one line, exit code 2', async () => {
    // Below a plain file nothing can be created, whoever runs the test (root ignores modes).
    const file = path.join(tmp, 'a-file');
    await writeFile(file, 'x');
    const home = path.join(file, 'home');
    const r = await embedcam(['data', 'fetch', 'cub', '--url', `${base}/ok.tgz`], { EMBEDCAM_HOME: home });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `embedcam: cannot write to ${path.join(home, 'downloads')} (ENOTDIR): set EMBEDCAM_HOME to a writable directory\n`,
    );
  });
});
