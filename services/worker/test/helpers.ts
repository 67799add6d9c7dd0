// Set-up shared by the worker's tests that need no model: real Redis on a key prefix of their own,
// and a logger whose lines can be inspected.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createLogger, createRedis, deleteKeysWithPrefix } from '@embedcam/queues';
import type { Redis } from 'ioredis';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silent = createLogger('worker-test', 'silent');

/** A Redis key prefix no other test (or engineer sharing this Redis) uses. */
export function uniquePrefix(): string {
  return `ectest-${randomBytes(5).toString('hex')}`;
}

export interface RedisScope {
  prefix: string;
  redis: Redis;
  /** Deletes every key under the prefix and quits the connection. */
  cleanup(): Promise<void>;
}

export function redisScope(): RedisScope {
  const prefix = uniquePrefix();
  const redis = createRedis(REDIS_URL);
  return {
    prefix,
    redis,
    async cleanup() {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

export { type LogLine, recordingLogger } from '@embedcam/test-support/logger';

/** Resolves once `cond` holds (polled every 50 ms); rejects after timeoutMs. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP relay to Redis whose listener and connections can be cut (an outage) and restored. */
export async function tcpRelay(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve((server!.address() as net.AddressInfo).port));
    });
  const port = await listen(0);
  const cut = () => {
    server?.close();
    server = undefined;
    for (const s of sockets) s.destroy();
  };
  return {
    port,
    cut,
    /** Listens again (if cut). */
    restore: async () => void (server ?? (await listen(port))),
    close: async () => cut(),
  };
}
