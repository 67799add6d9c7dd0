// The real CLI against a Redis that does not answer: it gives up within its bound, with one line
// naming the URL, and never falls back to another Redis.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = path.join(import.meta.dirname, '..', 'bin', 'embedcam.js');
// Loading the CLI's modules (tsx) takes seconds on a busy machine; the bound is what comes on top.
const STARTUP_ALLOWANCE_MS = 15_000;

async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

function embedcam(args: string[], env: Record<string, string> = {}) {
  const started = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, REDIS_URL: '', REDIS_CONNECT_TIMEOUT_MS: '', ...env },
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
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started })),
  );
}

const oneLine = (url: string, within: string) =>
  new RegExp(
    `^embedcam: Redis at ${url.replace(/[.]/g, '\\.')} did not answer within ${within} \\(connect ECONNREFUSED [^)]*\\): start Redis or set REDIS_URL / --redis-url\\n$`,
  );

describe('embedcam against an unreachable Redis', { timeout: 60_000 }, () => {
  it('status: --redis-timeout bounds the wait; one line, exit code 1', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const r = await embedcam(['status', 'x', '--redis-url', url, '--redis-timeout', '1000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine(url, '1 s'));
    expect(r.stdout).toBe('');
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(r.ms).toBeLessThan(1000 + STARTUP_ALLOWANCE_MS);
  });

  it('run: REDIS_CONNECT_TIMEOUT_MS and REDIS_URL from the environment; no private redis-server', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const r = await embedcam(['run'], { REDIS_URL: url, REDIS_CONNECT_TIMEOUT_MS: '1500' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine(url, '1500 ms'));
    expect(r.ms).toBeLessThan(1500 + STARTUP_ALLOWANCE_MS);
  });

  it('run: an explicit --redis-url that does not answer is an error, with the password hidden', async () => {
    const port = await closedPort();
    const r = await embedcam([
      'run',
      '--redis-url',
      `redis://:secret@127.0.0.1:${port}`,
      '--redis-timeout',
      '500',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(oneLine(`redis://:\\*\\*\\*@127.0.0.1:${port}`, '500 ms'));
    expect(r.stderr).not.toContain('secret');
  });
});
