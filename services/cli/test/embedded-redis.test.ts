import { execFileSync } from 'node:child_process';
import { redisAnswers } from '@embedcam/queues';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { resolveRedis } from '../src/embedded-redis.js';

const log = pino({ level: 'silent' });
const hasRedisServer = (() => {
  try {
    execFileSync('redis-server', ['--version']);
    return true;
  } catch {
    return false;
  }
})();
// Nothing listens on port 1: stands in for "no Redis on 127.0.0.1:6379".
const NOTHING = 'redis://127.0.0.1:1';

describe('resolveRedis: the embedded default', () => {
  it('uses REDIS_URL when set, without probing', async () => {
    const r = await resolveRedis('redis://example.invalid:6379', log, { localDefault: NOTHING });
    expect(r).toMatchObject({ url: 'redis://example.invalid:6379', source: 'configured' });
  });

  it('uses the local default when it answers', async () => {
    const r = await resolveRedis(undefined, log, { localDefault: 'redis://127.0.0.1:6379' });
    expect(r.source).toBe('local-default');
  });

  it.skipIf(!hasRedisServer)('starts a private redis-server when nothing answers, and stops it', async () => {
    const r = await resolveRedis(undefined, log, { localDefault: NOTHING });
    expect(r.source).toBe('embedded');
    expect(r.url).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    expect(await redisAnswers(r.url)).toBe(true);
    await r.stop();
    expect(await redisAnswers(r.url)).toBe(false);
  });

  it('says how to get Redis when there is none', async () => {
    await expect(
      resolveRedis(undefined, log, { localDefault: NOTHING, redisServer: 'no-such-redis-server' }),
    ).rejects.toThrow(
      /No Redis: REDIS_URL is not set, nothing answers on 127\.0\.0\.1:1 and redis-server is not on PATH\. Install it/,
    );
  });
});
