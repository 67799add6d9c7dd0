import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { redisAnswers } from '@embedcam/queues';
import type { Logger } from 'pino';

export interface ResolvedRedis {
  url: string;
  /** How it was found: configured, the local default, or a private server started now. */
  source: 'configured' | 'local-default' | 'embedded';
  stop(): Promise<void>;
}

const LOCAL_DEFAULT = 'redis://127.0.0.1:6379';

/**
 * REDIS_URL when set; else 127.0.0.1:6379 if it answers; else a private `redis-server` from PATH
 * on a free port for the life of the command; else a clear error on how to get Redis.
 */
export async function resolveRedis(
  configured: string | undefined,
  log: Logger,
  opts: { localDefault?: string; redisServer?: string } = {},
): Promise<ResolvedRedis> {
  const none = async () => {};
  const localDefault = opts.localDefault ?? LOCAL_DEFAULT;
  if (configured) return { url: configured, source: 'configured', stop: none };
  if (await redisAnswers(localDefault)) return { url: localDefault, source: 'local-default', stop: none };
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'embedcam-redis-'));
  let child: ChildProcess;
  try {
    child = spawn(
      opts.redisServer ?? 'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
      ],
      { stdio: 'ignore' },
    );
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('spawn', resolve);
    });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `No Redis: REDIS_URL is not set, nothing answers on ${localDefault.replace('redis://', '')} and redis-server is not on PATH. ` +
        'Install it (apt-get install redis-server / brew install redis), run `docker compose up -d redis`, or set REDIS_URL=redis://host:6379.',
    );
  }
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  log.info({ url }, 'started a private redis-server for this command');
  return {
    url,
    source: 'embedded',
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
