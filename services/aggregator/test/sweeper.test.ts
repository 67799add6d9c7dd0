import { deleteKeysWithPrefix, initRun, runKeys } from '@embedcam/queues';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSweeper, type Sweeper, type SweeperOptions } from '../src/sweeper.js';
import { captureLog, gate } from './fakes.js';
import { type TestEnv, testEnv, waitFor } from './helpers.js';

describe('sweeper: finds the runs whose report is missing', () => {
  let t: TestEnv;
  const sweepers: Sweeper[] = [];
  /** runId per call of the report callback. */
  let reported: string[];
  let logged: ReturnType<typeof captureLog>;

  const sweeper = (o: Partial<SweeperOptions> = {}) => {
    const s = createSweeper({
      redis: t.redis,
      prefix: t.prefix,
      log: logged.log,
      report: async (runId) => void reported.push(runId),
      intervalMs: 0,
      fullScanEvery: 1000,
      ...o,
    });
    sweepers.push(s);
    return s;
  };
  /** A run's state in Redis: `total` images, `done` counted, optionally reported at `reportedDone`. */
  const run = async (runId: string, total: number, done: number, reportedDone?: number) => {
    await initRun(t.redis, t.prefix, runId, total);
    for (let i = 0; i < done; i++) await t.redis.sadd(t.keys(runId).done, `img-${i}`);
    if (reportedDone !== undefined) {
      await t.redis.hset(t.keys(runId).meta, { status: 'complete', reportedDone: String(reportedDone) });
    }
  };

  beforeAll(async () => {
    t = await testEnv();
  });
  beforeEach(async () => {
    for (const s of sweepers.splice(0)) await s.stop();
    await deleteKeysWithPrefix(t.redis, t.prefix);
    reported = [];
    logged = captureLog();
  });
  afterAll(async () => {
    for (const s of sweepers.splice(0)) await s.stop();
    await t?.cleanup();
  });

  it('reports the tracked runs that need it, forgets reported runs and non-runs', async () => {
    await run('ready', 2, 2);
    await run('counting', 3, 1);
    await run('reported', 1, 1, 1);
    await run('stale', 2, 2, 1); // a result was counted after its report
    const s = sweeper();
    for (const id of ['ready', 'counting', 'reported', 'stale', 'ghost']) s.track(id);
    await s.sweep({ full: false });
    expect(reported).toEqual(['ready', 'stale']);
    expect([...s.known]).toEqual(['ready', 'counting', 'stale']);
    const progress = () => logged.lines.filter((l) => l.msg.startsWith('run counting:')).map((l) => l.msg);
    expect(progress()).toEqual(['run counting: 1/3 counted']);
    // Progress is logged when it moved, not on every sweep.
    await s.sweep({ full: false });
    expect(progress()).toEqual(['run counting: 1/3 counted']);
    await t.redis.sadd(t.keys('counting').done, 'img-1');
    await s.sweep({ full: false });
    expect(progress()).toEqual(['run counting: 1/3 counted', 'run counting: 2/3 counted']);
  });

  it('a full sweep finds runs by SCAN, only under its own prefix', async () => {
    await run('found', 1, 1);
    // Under the pattern, but no run's meta hash (the run id cannot hold ':').
    await t.redis.hset(`${t.prefix}:run:a:b:meta`, { total: '0' });
    const other = `${t.prefix}x`;
    await initRun(t.redis, other, 'elsewhere', 0);
    try {
      const s = sweeper();
      await s.sweep({ full: false });
      expect(reported).toEqual([]);
      await s.sweep({ full: true });
      expect(reported).toEqual(['found']);
      expect([...s.known]).toEqual(['found']);
    } finally {
      await t.redis.del(runKeys(other, 'elsewhere').meta);
    }
  });

  it('every n-th sweep scans, the first included', async () => {
    const s = sweeper({ fullScanEvery: 3 });
    await s.sweep(); // 0: full, nothing there yet
    await run('late', 1, 1);
    await s.sweep(); // 1
    await s.sweep(); // 2
    expect(reported).toEqual([]);
    await s.sweep(); // 3: full
    expect(reported).toEqual(['late']);
  });

  it('sweeps run one after another; a failed sweep is logged and the next one runs', async () => {
    await run('ready', 1, 1);
    const events: string[] = [];
    const first = gate();
    const s = sweeper({
      report: async () => {
        events.push('start');
        if (events.length === 1) await first.wait;
        events.push('end');
      },
    });
    s.track('ready');
    const both = Promise.all([s.sweep(), s.sweep()]);
    await waitFor('the first report', async () => events.length > 0);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toEqual(['start']);
    first.open();
    await both;
    expect(events).toEqual(['start', 'end', 'start', 'end']);

    await t.redis.set(t.keys('broken').meta, 'not a hash');
    s.track('broken');
    await expect(s.sweep()).resolves.toBeUndefined();
    expect(logged.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['sweep failed']);
    await t.redis.del(t.keys('broken').meta);
    await s.sweep();
    expect(events.length).toBe(6);
    expect(s.known.has('broken')).toBe(false);
  });

  it('the timer sweeps until stopped, and stop waits for a sweep in progress', async () => {
    await run('ready', 1, 1);
    const s = sweeper({ intervalMs: 10 });
    s.track('ready');
    s.start();
    s.start(); // once only
    await waitFor('three timed sweeps', async () => reported.length >= 3);
    await s.stop();
    const n = reported.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(reported.length).toBe(n);

    const held = gate();
    let stopped = false;
    const busy = sweeper({ report: () => held.wait });
    busy.track('ready');
    const sweeping = busy.sweep();
    const stopping = busy.stop().then(() => {
      stopped = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false);
    held.open();
    await Promise.all([sweeping, stopping]);
    expect(stopped).toBe(true);
  });

  it('with intervalMs 0 there is no timer', async () => {
    await run('ready', 1, 1);
    const s = sweeper({ intervalMs: 0 });
    s.track('ready');
    s.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(reported).toEqual([]);
  });
});
