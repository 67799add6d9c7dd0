import { getRunProgress, initRun } from '@embedcam/queues';
import { beforeAll, describe, expect, it } from 'vitest';
import { countDirectly } from './counting.js';
import { useAggregators } from './harness.js';
import {
  enqueue,
  expectClose,
  okJob,
  readCounters,
  readReport,
  referenceSummary,
  seedRun,
  syntheticResults,
  type TestEnv,
  waitFor,
} from './helpers.js';

// Crashes, aggregators side by side, reports nobody wrote, results after the report.
describe('aggregator service: recovery and concurrency (BullMQ + Redis + local store)', () => {
  const { env, start, waitComplete } = useAggregators();
  let t: TestEnv;
  beforeAll(() => {
    t = env();
  });

  it('restart mid-run (aggregator dies after counting, before finishing its jobs): no double counting', async () => {
    const runId = 'crash';
    const results = syntheticResults(120, 41);
    await seedRun(t, runId, results);
    let crashed: Promise<void> | undefined;
    const hung: string[] = [];
    const a = await start({
      concurrency: 8,
      lockDurationMs: 1000,
      afterCount: async (_r, _counted, jobId) => {
        if (a.stats.counted >= 40 && !crashed) crashed = a.close({ force: true });
        if (crashed) {
          // Counted, but the job never completes: as if the process died right here.
          hung.push(jobId!);
          await new Promise(() => {});
        }
      },
    });
    await enqueue(
      t.queue,
      results.map((r) => okJob(runId, r)),
      2,
    );
    await waitFor('the crash', async () => crashed !== undefined);
    await crashed;
    const doneAtCrash = (await readCounters(t.redis, t.prefix, runId)).done;
    expect(doneAtCrash).toBeGreaterThanOrEqual(40);
    expect(doneAtCrash).toBeLessThan(120);
    expect((await getRunProgress(t.redis, t.prefix, runId)).status).toBe('running');
    expect(hung.length).toBeGreaterThan(0);

    const seenByB = new Map<string, boolean>();
    const b = await start({
      afterCount: (_r, counted, jobId) => {
        seenByB.set(jobId!, counted);
      },
    });
    await waitComplete(runId);
    // The jobs the dead aggregator held came back (stalled) and were recognised as counted.
    await waitFor('stalled jobs reprocessed', async () => hung.every((id) => seenByB.has(id)));
    for (const id of hung) {
      expect(seenByB.get(id), id).toBe(false);
      const job = await t.queue.getJob(id);
      expect(job?.stalledCounter, id).toBeGreaterThanOrEqual(1);
    }
    expect(b.stats.counted).toBe(120 - doneAtCrash);
    const c = await readCounters(t.redis, t.prefix, runId);
    expect(c.done).toBe(120);
    expect(c.rows).toBe(120);
    const report = await readReport(t.store, runId);
    expectClose({ ...report, run: {} }, referenceSummary(results), 1e-9);
    expect(report.metrics!.images).toBe(results.filter((r) => r.metrics).length);
  });

  it('two aggregators side by side count every image once and write one consistent report', async () => {
    const runId = 'pair';
    const results = syntheticResults(200, 51, 7);
    await seedRun(t, runId, results);
    const a = await start({ concurrency: 16 });
    const b = await start({ concurrency: 16 });
    await enqueue(
      t.queue,
      results.map((r) => okJob(runId, r)),
      3,
    );
    await waitComplete(runId);
    await waitFor(
      'all 600 deliveries',
      async () => a.stats.counted + a.stats.repeats + b.stats.counted + b.stats.repeats === 600,
    );
    expect(a.stats.counted + b.stats.counted).toBe(200);
    expect(a.stats.counted).toBeGreaterThan(0);
    expect(b.stats.counted).toBeGreaterThan(0);
    const report = await readReport(t.store, runId);
    expectClose({ ...report, run: {} }, referenceSummary(results), 1e-9);
    expect(report.perClass.length).toBe(7);
  });

  it('the sweep writes a report whose counts completed while no aggregator wrote it', async () => {
    const runId = 'orphan';
    const results = syntheticResults(10, 61);
    await seedRun(t, runId, results, [], { tau: 0.5 });
    // Counted by an aggregator that died before writing the report.
    await countDirectly(t, runId, results);
    await initRun(t.redis, t.prefix, 'empty', 0);
    await start({ sweepIntervalMs: 0 }); // only the start-up sweep
    const p = await waitComplete(runId, 5000);
    expect(p.done).toBe(10);
    const report = await readReport(t.store, runId);
    expect(report.run).toMatchObject({ tau: 0.5 });
    expectClose({ ...report, run: {} }, referenceSummary(results, [], 0.5), 1e-9);
    // A run of no images is complete at once, with an empty report.
    await waitComplete('empty', 5000);
    expect((await readReport(t.store, 'empty')).images).toEqual({
      selected: 0,
      processed: 0,
      failed: 0,
      withBox: 0,
    });
  });

  it('a result counted after the report rewrites it', async () => {
    const runId = 'late-image';
    const [first, second, extra] = syntheticResults(3, 71);
    await seedRun(t, runId, [first, second, extra], [], { total: 2 });
    const agg = await start();
    await enqueue(t.queue, [okJob(runId, first), okJob(runId, second)]);
    await waitComplete(runId);
    expect((await readReport(t.store, runId)).images.processed).toBe(2);
    await enqueue(t.queue, [okJob(runId, extra)]);
    await waitFor(
      'the report rewritten',
      async () => (await readReport(t.store, runId)).images.processed === 3,
    );
    expect(agg.stats.reports).toBe(2);
  });
});
