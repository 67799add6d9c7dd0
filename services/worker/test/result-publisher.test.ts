import { QUEUES, type ResultJob, resultJobId, resultJobOptions } from '@embedcam/queues';
import { type Job, Queue } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ResultPublisher } from '../src/result-publisher.js';
import { type RedisScope, redisScope, silent } from './helpers.js';

describe('ResultPublisher (real Redis)', () => {
  let scope: RedisScope;
  let publisher: ResultPublisher;
  let results: Queue;

  beforeEach(() => {
    scope = redisScope();
    publisher = new ResultPublisher({
      connection: scope.redis,
      prefix: scope.prefix,
      attempts: 4,
      log: silent,
    });
    results = new Queue(QUEUES.results, { connection: scope.redis, prefix: scope.prefix });
  });
  afterEach(async () => {
    await publisher.close();
    await results.close();
    await scope.cleanup();
  });

  const r: ResultJob = { runId: 'run-1', imageId: 'img-7', status: 'ok', key: 'k', uri: '/a.jpg', label: 3 };
  const waiting = async (): Promise<Job<ResultJob>[]> => results.getJobs(['waiting']);

  it('publishes a result job under its deterministic id, with the result job options', async () => {
    await publisher.publish(r);
    const [job] = await waiting();
    expect(job.id).toBe(resultJobId('run-1', 'img-7'));
    expect(job.name).toBe('result');
    expect(job.data).toEqual(r);
    expect(job.opts).toMatchObject(resultJobOptions(4));
  });

  it('an ok result names the image, its result key, uri and label', async () => {
    await publisher.publishOk(
      { runId: 'run-1', imageId: 'img-7', uri: '/a.jpg', label: 3, split: 'test' },
      'k',
    );
    expect((await waiting()).map((j) => j.data)).toEqual([r]);
  });

  it('the same result published twice (a retry, two workers) is one job', async () => {
    await publisher.publish(r);
    await publisher.publish(r);
    expect(await waiting()).toHaveLength(1);
  });

  it('a failed result carries the failure; uri and label only where the payload has them well typed', async () => {
    const failure = { code: 'bad-payload', message: 'label: expected a number' };
    await publisher.publishFailed('run-1', 'good', failure, { uri: '/g.jpg', label: 2 });
    await publisher.publishFailed('run-1', 'bad', failure, {
      uri: 42 as unknown as string,
      label: 'one' as unknown as number,
    });
    await publisher.publishFailed('run-1', 'fraction', failure, { label: 1.5 });
    const byId = Object.fromEntries((await waiting()).map((j) => [j.data.imageId, j.data]));
    expect(byId.good).toEqual({
      runId: 'run-1',
      imageId: 'good',
      status: 'failed',
      failure,
      uri: '/g.jpg',
      label: 2,
    });
    expect(byId.bad).toEqual({ runId: 'run-1', imageId: 'bad', status: 'failed', failure });
    expect(byId.fraction).toEqual({ runId: 'run-1', imageId: 'fraction', status: 'failed', failure });
  });

  it('keeps other prefixes apart', async () => {
    const other = redisScope();
    const elsewhere = new Queue(QUEUES.results, { connection: other.redis, prefix: other.prefix });
    try {
      await publisher.publish({ runId: 'r', imageId: 'i', status: 'ok', key: 'k' });
      expect(await elsewhere.count()).toBe(0);
      expect(await results.count()).toBe(1);
    } finally {
      await elsewhere.close();
      await other.cleanup();
    }
  });

  it('a failure is published even when the store cannot take its record (the store may be what failed)', async () => {
    const broken = new ResultPublisher({
      connection: scope.redis,
      prefix: scope.prefix,
      attempts: 4,
      log: silent,
      store: {
        getOrNull: async () => null,
        put: async () => {
          throw new Error('store unreachable');
        },
      },
    });
    try {
      await broken.publishFailed(
        'run-1',
        'img-9',
        { code: 'error', message: 'timeout', transient: true },
        {},
      );
      expect((await waiting()).map((j) => [j.data.imageId, j.data.status])).toEqual([['img-9', 'failed']]);
    } finally {
      await broken.close();
    }
  });
});
