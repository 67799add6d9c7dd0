import { Redis, type RedisOptions } from 'ioredis';

/**
 * One way to connect. BullMQ workers need `maxRetriesPerRequest: null` (blocking commands must
 * wait through reconnects instead of failing); producers and plain clients share the same options
 * so behaviour during a Redis restart is the same everywhere.
 */
export function createRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false, ...opts });
}

/** Answers PING within `timeoutMs`? (used to pick the embedded default). */
export async function redisAnswers(url: string, timeoutMs = 500): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}
