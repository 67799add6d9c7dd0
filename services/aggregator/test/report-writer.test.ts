import { readRunStatuses, storageKeys } from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReportWriter, needsReport, type ReportWriterOptions } from '../src/report-writer.js';
import { countDirectly } from './counting.js';
import { captureLog, gate } from './fakes.js';
import { readReport, seedRun, syntheticResults, type TestEnv, testEnv } from './helpers.js';

describe('needsReport', () => {
  it('is true once every image is counted and no report covers them all', () => {
    expect(needsReport({}, 0)).toBe(false); // not a run (yet)
    expect(needsReport({ total: 'x' }, 5)).toBe(false);
    expect(needsReport({ total: '3', status: 'running' }, 2)).toBe(false);
    expect(needsReport({ total: '3', status: 'running' }, 3)).toBe(true);
    expect(needsReport({ total: '0', status: 'running' }, 0)).toBe(true);
    expect(needsReport({ total: '3', status: 'complete', reportedDone: '3' }, 3)).toBe(false);
    expect(needsReport({ total: '3', status: 'complete', reportedDone: '3' }, 4)).toBe(true);
    expect(needsReport({ total: '3', status: 'complete' }, 3)).toBe(true);
  });
});

describe('report writer: one report per count, under the Redis lock', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  /** A run of `n` images, all counted, no report yet. */
  const countedRun = async (runId: string, n = 3) => {
    const results = syntheticResults(n, runId.length);
    await seedRun(t, runId, results);
    await countDirectly(t, runId, results);
  };
  const writer = (o: Partial<ReportWriterOptions> = {}) => {
    const logged = captureLog();
    const stats = { reports: 0 };
    const w = createReportWriter({
      redis: t.redis,
      prefix: t.prefix,
      store: t.store,
      log: logged.log,
      lockMs: 10_000,
      stats,
      ...o,
    });
    return { w, stats, lines: logged.lines };
  };
  /** t.store, with `onPut` run before each put (while the writer holds the lock). */
  const storeWith = (onPut: (key: string) => Promise<void>): ObjectStore =>
    Object.assign(Object.create(t.store) as ObjectStore, {
      put: async (...args: Parameters<ObjectStore['put']>) => {
        await onPut(args[0]);
        return t.store.put(...args);
      },
    });
  const status = async (runId: string) => (await readRunStatuses(t.redis, t.prefix, [runId]))[0];

  it('writes images.csv and report.json, marks the run complete and frees the lock', async () => {
    await countedRun('plain');
    const lockTtl: number[] = [];
    const { w, stats } = writer({
      lockMs: 5000,
      store: storeWith(async () => void lockTtl.push(await t.redis.pttl(t.keys('plain').reportLock))),
    });
    expect(await w.writeIfNeeded('plain')).toBe(true);
    // Held (with an expiry, in case the writer dies) while writing; gone after.
    expect(lockTtl.length).toBe(2);
    for (const ttl of lockTtl) expect(ttl > 0 && ttl <= 5000, `ttl ${ttl}`).toBe(true);
    expect(await t.redis.exists(t.keys('plain').reportLock)).toBe(0);
    expect((await status('plain')).meta).toMatchObject({
      status: 'complete',
      reportedDone: '3',
      reportKey: storageKeys.report('plain'),
    });
    expect((await readReport(t.store, 'plain')).images.processed).toBe(3);
    expect((await t.store.get(storageKeys.imagesCsv('plain'))).toString().split('\r\n').length).toBe(5);
    expect(await w.writeIfNeeded('plain')).toBe(false);
    expect(stats.reports).toBe(1);
  });

  it('writes nothing while another process holds the lock, and leaves its lock alone', async () => {
    await countedRun('held');
    await t.redis.set(t.keys('held').reportLock, 'other-token', 'PX', 10_000);
    const { w, stats } = writer();
    expect(await w.writeIfNeeded('held')).toBe(false);
    expect(stats.reports).toBe(0);
    expect(await t.store.getOrNull(storageKeys.report('held'))).toBeNull();
    expect(await t.redis.get(t.keys('held').reportLock)).toBe('other-token');
  });

  it('does not free a lock that expired and was taken by another writer meanwhile', async () => {
    await countedRun('expired');
    const lockKey = t.keys('expired').reportLock;
    const { w } = writer({ store: storeWith(async () => void (await t.redis.set(lockKey, 'next-holder'))) });
    expect(await w.writeIfNeeded('expired')).toBe(true);
    expect(await t.redis.get(lockKey)).toBe('next-holder');
  });

  it('a writer that saw the run unreported, then got the lock after another wrote it, writes nothing', async () => {
    // The reported flake (`reports` 2 where 1 was expected): A checks the run (not reported),
    // is delayed, B writes the report and frees the lock, then A takes the lock. Without the
    // check under the lock A wrote the same report a second time.
    await countedRun('race');
    const beforeLock = gate();
    const aAtLock = gate();
    const slowSet = new Proxy(t.redis, {
      get(target, prop) {
        if (prop === 'set') {
          return async (...args: Parameters<Redis['set']>) => {
            aAtLock.open();
            await beforeLock.wait;
            return (target.set as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const v = Reflect.get(target, prop, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    let puts = 0;
    const counting = storeWith(async () => void puts++);
    const a = writer({ redis: slowSet, store: counting });
    const b = writer({ store: counting });
    const aWrote = a.w.writeIfNeeded('race');
    await aAtLock.wait; // A has seen the run unreported
    expect(await b.w.writeIfNeeded('race')).toBe(true);
    beforeLock.open();
    expect(await aWrote).toBe(false);
    expect(a.stats.reports + b.stats.reports).toBe(1);
    expect(puts).toBe(2); // images.csv and report.json, once
    expect(await t.redis.exists(t.keys('race').reportLock)).toBe(0);
  });

  it('logs a failing write once per message, frees the lock, and writes once the store works', async () => {
    await countedRun('flaky');
    let failWith: string | undefined = 'disk full';
    const { w, lines, stats } = writer({
      store: storeWith(async () => {
        if (failWith) throw new Error(failWith);
      }),
    });
    await w.writeIfNeededSafely('flaky');
    await w.writeIfNeededSafely('flaky');
    failWith = 'permission denied';
    await w.writeIfNeededSafely('flaky');
    expect(lines.filter((l) => l.level === 'error').map((l) => l.obj.err)).toEqual([
      'disk full',
      'permission denied',
    ]);
    expect(await t.redis.exists(t.keys('flaky').reportLock)).toBe(0);
    expect((await status('flaky')).meta.status).toBe('running');
    failWith = undefined;
    await w.writeIfNeededSafely('flaky');
    expect(stats.reports).toBe(1);
    expect((await status('flaky')).meta.status).toBe('complete');
  });

  it('reports a run whose run.json is missing or invalid, naming the problem, with τ = 0.2', async () => {
    await countedRun('no-config');
    await t.store.delete(storageKeys.runConfig('no-config'));
    await countedRun('bad-config');
    await t.store.put(storageKeys.runConfig('bad-config'), '{"runId": "bad-config"}');
    const { w, lines } = writer();
    expect(await w.writeIfNeeded('no-config')).toBe(true);
    expect(await w.writeIfNeeded('bad-config')).toBe(true);
    expect((await readReport(t.store, 'no-config')).run).toEqual({ runId: 'no-config' });
    const bad = await readReport(t.store, 'bad-config');
    expect(bad.run).toEqual({
      runId: 'bad-config',
      configError: expect.stringMatching(/not a valid run configuration/),
    });
    expect(bad.metrics?.gtKnownLoc.tau).toBe(0.2);
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.obj.runId)).toEqual([
      'no-config',
      'bad-config',
    ]);
  });
});
