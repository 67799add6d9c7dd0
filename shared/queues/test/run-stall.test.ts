import { randomBytes } from 'node:crypto';
import { TEST_REDIS_URL } from '@embedcam/test-support/pipeline-env';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../src/connection.js';
import { QUEUES, runKeys } from '../src/names.js';
import { runJobsInFlight, type StallFacts, stallReason } from '../src/run-stall.js';
import { deleteKeysWithPrefix, initRun } from '../src/run-state.js';

const settings = { stallTimeoutMs: 10_000, noWorkerGraceMs: 3000, idleGraceMs: 1000 };
const now = 1_000_000;
const facts = (f: Partial<StallFacts>): StallFacts => ({
  now,
  total: 10,
  done: 4,
  progressAt: now - 100,
  deploymentProgressAt: undefined,
  workers: { heatmaps: 1, results: 1 },
  inFlight: async () => 3,
  ...f,
});

describe('stallReason', () => {
  it('a run with workers, jobs in flight and recent progress is not stalled', async () => {
    expect(await stallReason(facts({}), settings)).toBeUndefined();
    expect(
      await stallReason(facts({ progressAt: undefined, workers: { heatmaps: 0, results: 0 } }), settings),
    ).toBe(undefined);
  });

  it('(a) no worker or aggregator for the grace, counted from progress or from when a watcher saw none', async () => {
    const noWorker = facts({ workers: { heatmaps: 0, results: 1 }, progressAt: now - 3500 });
    expect(await stallReason(noWorker, settings)).toBe(
      'no worker has been connected to the heatmaps queue for 3 s; start `embedcam worker`',
    );
    // A watcher that first saw none 1 s ago waits for the rest of the grace.
    expect(
      await stallReason({ ...noWorker, noWorkerSince: { heatmaps: now - 1000 } }, settings),
    ).toBeUndefined();
    expect(
      await stallReason(facts({ workers: { heatmaps: 0, results: 1 }, progressAt: now - 2000 }), settings),
    ).toBe(undefined);
    expect(
      await stallReason(facts({ workers: { heatmaps: 1, results: 0 }, progressAt: now - 61_000 }), settings),
    ).toBe('no aggregator has been connected to the results queue for 61 s; start `embedcam aggregator`');
    // All counted: only the aggregator (which writes the report) is needed.
    expect(
      await stallReason(
        facts({ done: 10, workers: { heatmaps: 0, results: 1 }, progressAt: now - 5000 }),
        settings,
      ),
    ).toBeUndefined();
  });

  it('(b) nothing of the run in flight and idle for the grace', async () => {
    const idle = facts({ progressAt: now - 1500, inFlight: async () => 0 });
    expect(await stallReason(idle, settings)).toMatch(
      /^none of its jobs is waiting, delayed or active, but only 4 of 10 images are counted \(nothing counted for 1 s\)/,
    );
    expect(await stallReason({ ...idle, progressAt: now - 500 }, settings)).toBeUndefined();
    expect(await stallReason({ ...idle, inFlight: async () => undefined }, settings)).toBeUndefined();
  });

  it('(c) nothing counted for the timeout in this run or any other; 0 turns it off', async () => {
    const quiet = facts({ progressAt: now - 600_000 });
    expect(await stallReason(quiet, settings)).toBe(
      'no image has been counted for 10 min, in this run or any other (4 of 10 counted)',
    );
    expect(await stallReason({ ...quiet, deploymentProgressAt: now - 2000 }, settings)).toBeUndefined();
    expect(await stallReason(quiet, { ...settings, stallTimeoutMs: 0 })).toBeUndefined();
    expect(await stallReason({ ...quiet, done: 10 }, settings)).toMatch(
      /10 of 10 counted, no report written\)$/,
    );
  });
});

describe('runJobsInFlight', () => {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const redis = createRedis(TEST_REDIS_URL);
  let heatmaps: Queue;
  let results: Queue;
  beforeAll(() => {
    heatmaps = new Queue(QUEUES.heatmaps, { connection: redis, prefix });
    results = new Queue(QUEUES.results, { connection: redis, prefix });
  });
  afterAll(async () => {
    await heatmaps.close();
    await results.close();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
  });

  it("counts only the run's own jobs, waiting, delayed or prioritized, with done and status of the same read", async () => {
    await initRun(redis, prefix, 'r1', 5);
    expect(await runJobsInFlight(redis, [heatmaps, results], prefix, 'r1')).toEqual({
      inFlight: 0,
      done: 0,
      status: 'running',
    });
    await heatmaps.add('heatmap', {}, { jobId: 'r1/a' });
    await heatmaps.add('heatmap', {}, { jobId: 'r1/b', delay: 60_000 });
    await heatmaps.add('heatmap', {}, { jobId: 'r1/c', priority: 3 });
    await heatmaps.add('heatmap', {}, { jobId: 'r10/a' });
    await results.add('result', {}, { jobId: 'r1/d/result' });
    await results.add('result', {}, { jobId: 'r2/d/result' });
    await redis.sadd(runKeys(prefix, 'r1').done, 'x');
    expect(await runJobsInFlight(redis, [heatmaps, results], prefix, 'r1')).toEqual({
      inFlight: 4,
      done: 1,
      status: 'running',
    });
    expect((await runJobsInFlight(redis, [heatmaps, results], prefix, 'r2')).inFlight).toBe(1);
    expect((await runJobsInFlight(redis, [heatmaps, results], prefix, 'r3')).inFlight).toBe(0);
    // Too many ids in flight to read: unknown.
    expect((await runJobsInFlight(redis, [heatmaps, results], prefix, 'r3', 5)).inFlight).toBeUndefined();
  });
});
