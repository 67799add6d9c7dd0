import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/connection.js';
import { runKeys } from '../src/names.js';
import { deleteKeysWithPrefix, getRunProgress, initRun, readRunStatuses } from '../src/run-state.js';

const REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('readRunStatuses: a run’s meta hash and counts in one read', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const redis = createRedis(REDIS_URL);
  afterAll(async () => {
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it('reads each run’s meta, done and failed, in the order asked; an unknown run is empty', async () => {
    await initRun(redis, prefix, 'a', 3);
    const a = runKeys(prefix, 'a');
    await redis.sadd(a.done, 'i1', 'i2', 'i3');
    await redis.sadd(a.failed, 'i2');
    await redis.hset(a.meta, { status: 'complete', reportedDone: '3' });
    await initRun(redis, prefix, 'b', 5);
    await redis.sadd(runKeys(prefix, 'b').done, 'j1');

    const [b, none, a2] = await readRunStatuses(redis, prefix, ['b', 'none', 'a']);
    expect(b).toMatchObject({ runId: 'b', meta: { total: '5', status: 'running' }, done: 1, failed: 0 });
    expect(none).toEqual({ runId: 'none', meta: {}, done: 0, failed: 0 });
    expect(a2).toMatchObject({
      runId: 'a',
      meta: { total: '3', status: 'complete', reportedDone: '3' },
      done: 3,
      failed: 1,
    });
    expect(await readRunStatuses(redis, prefix, [])).toEqual([]);
  });

  it('getRunProgress reads through it', async () => {
    expect(await getRunProgress(redis, prefix, 'a')).toMatchObject({
      runId: 'a',
      total: 3,
      done: 3,
      failed: 1,
      status: 'complete',
    });
    expect(await getRunProgress(redis, prefix, 'none')).toMatchObject({
      total: 0,
      done: 0,
      status: 'unknown',
    });
  });

  it('throws when a key holds something else instead of reading it as empty', async () => {
    await redis.set(runKeys(prefix, 'broken').meta, 'not a hash');
    await expect(readRunStatuses(redis, prefix, ['a', 'broken'])).rejects.toThrow(/WRONGTYPE/);
  });
});
