import { createRedis, QUEUES, type ResultJob, resultJobId } from '@embedcam/queues';
import { Queue, Worker } from 'bullmq';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ResultPublisher } from '../src/result-publisher.js';
import { StallReporter } from '../src/stall-reporter.js';
import {
  REDIS_URL,
  type RedisScope,
  recordingLogger,
  redisScope,
  silent,
  tcpRelay,
  until,
} from './helpers.js';
import { job } from './processor-bench.js';

describe('StallReporter (real Redis)', () => {
  let scope: RedisScope;
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('reports a job BullMQ failed for stalling too often, and only such a job', async () => {
    scope = redisScope();
    closers.push(() => scope.cleanup());
    const { redis: connection, prefix } = scope;
    const results = new ResultPublisher({ connection, prefix, attempts: 1, log: silent });
    const reporter = new StallReporter({ connection, prefix, results, log: silent });
    const heatmaps = new Queue(QUEUES.heatmaps, { connection, prefix });
    const resultsQueue = new Queue<ResultJob>(QUEUES.results, { connection, prefix });
    closers.push(
      () => results.close(),
      () => reporter.close(),
      () => heatmaps.close(),
      () => resultsQueue.close(),
    );
    await reporter.waitUntilReady();

    // A worker that fails `boom` itself and never finishes `stuck` nor renews its lock: BullMQ's
    // stall check (maxStalledCount 0) marks `stuck` failed as it would the job of a dead worker,
    // and the next worker to fetch it (here the same one) fails it.
    const worker = new Worker(
      QUEUES.heatmaps,
      async (j) => (j.data.imageId === 'boom' ? Promise.reject(new Error('boom')) : new Promise(() => {})),
      {
        connection,
        prefix,
        concurrency: 2,
        lockDuration: 300,
        skipLockRenewal: true,
        stalledInterval: 200,
        maxStalledCount: 0,
      },
    );
    worker.on('error', () => {});
    closers.push(() => worker.close(true));
    await heatmaps.add('heatmap', job('boom'), { jobId: 'boom' });
    await heatmaps.add('heatmap', job('stuck'), { jobId: 'stuck' });

    await until(async () => (await resultsQueue.count()) > 0, 15_000);
    expect(await (await heatmaps.getJob('stuck'))!.getState()).toBe('failed');
    const [r] = await resultsQueue.getJobs(['waiting']);
    expect(r.id).toBe(resultJobId('run-1', 'stuck'));
    expect(r.data).toMatchObject({
      runId: 'run-1',
      imageId: 'stuck',
      status: 'failed',
      failure: { code: 'stalled', message: expect.stringMatching(/died repeatedly \(.*stalled more than/) },
      uri: '/images/stuck.jpg',
      label: 2,
    });
    expect(await (await heatmaps.getJob('boom'))!.getState()).toBe('failed');
    expect(await resultsQueue.count()).toBe(1);
  });

  it('logs a Redis outage once, not on every reconnect attempt, and its end', async () => {
    scope = redisScope();
    closers.push(() => scope.cleanup());
    const relay = await tcpRelay(new URL(REDIS_URL));
    const connection = createRedis(`redis://127.0.0.1:${relay.port}`);
    connection.on('error', () => {});
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { log, lines } = recordingLogger();
    const reporter = new StallReporter({ connection, prefix: scope.prefix, results: {} as never, log });
    // Closed in reverse: Redis reachable again first, or closing would wait for it.
    closers.push(
      async () => printed.mockRestore(),
      () => relay.close(),
      () => connection.quit(),
      () => reporter.close(),
      () => relay.restore(),
    );
    await reporter.waitUntilReady();

    relay.cut();
    await new Promise((r) => setTimeout(r, 1500)); // several reconnect attempts fail meanwhile
    const outage = lines.filter((l) => l.msg.startsWith('stall reporter'));
    expect(outage).toHaveLength(1);
    expect(outage[0]).toMatchObject({
      level: 40,
      err: expect.stringMatching(/ECONNRESET|ECONNREFUSED|closed/),
    });

    await relay.restore();
    await until(() => lines.some((l) => l.msg === 'stall reporter: Redis is back'));
    expect(lines.filter((l) => l.msg.startsWith('stall reporter'))).toHaveLength(2);
    expect(printed.mock.calls.flat().join(' ')).not.toMatch(/Unhandled error event/);
  });
});
