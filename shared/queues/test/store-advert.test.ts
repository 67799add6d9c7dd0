// One store per deployment: the first service of a prefix advertises its store in Redis; a second
// with another store is refused with one message naming both.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEST_REDIS_URL } from '@embedcam/test-support/pipeline-env';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/connection.js';
import { deleteKeysWithPrefix } from '../src/run-state.js';
import { advertisedStore, advertiseStore, StoreMismatchError, storeAdvertKey } from '../src/store-advert.js';

describe('advertiseStore', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  let redis: ReturnType<typeof createRedis>;
  beforeAll(() => {
    redis = createRedis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it('the first service sets it, the same store joins, another store is refused naming both', async () => {
    expect(await advertisedStore(redis, prefix)).toBeNull();
    const a = await advertiseStore(redis, prefix, 'file:///srv/a/', 'worker', 600);
    expect(await advertisedStore(redis, prefix)).toBe('file:///srv/a/');
    const b = await advertiseStore(redis, prefix, 'file:///srv/a/', 'aggregator', 600);
    const refused = await advertiseStore(redis, prefix, 's3://other/p', 'proxy-builder', 600).catch((e) => e);
    expect(refused).toBeInstanceOf(StoreMismatchError);
    expect(refused.message).toBe(
      `the services of prefix "${prefix}" use the store file:///srv/a/, but this proxy-builder uses s3://other/p: ` +
        'set STORAGE_URI (or --storage) to the same store everywhere, or use another --prefix',
    );
    expect(refused.message).not.toContain('\n');
    // Refreshed while a service runs: still there after several TTLs.
    await sleep(1500);
    expect(await advertisedStore(redis, prefix)).toBe('file:///srv/a/');
    // Withdrawn when its services stop: then another store may take the prefix at once.
    await a.stop();
    expect(await advertisedStore(redis, prefix)).toBe('file:///srv/a/');
    await b.stop();
    expect(await advertisedStore(redis, prefix)).toBeNull();
    const c = await advertiseStore(redis, prefix, 's3://other/p', 'worker', 600);
    expect(await advertisedStore(redis, prefix)).toBe('s3://other/p');
    // A crashed service (no refresh, never withdrawn) stops counting after the TTL.
    await redis.hset(storeAdvertKey(prefix), 'crashed', `${Date.now() - 1} file:///srv/dead/`);
    expect(await advertisedStore(redis, prefix)).toBe('s3://other/p');
    expect(await redis.hexists(storeAdvertKey(prefix), 'crashed')).toBe(0);
    await c.stop();
  });
});
