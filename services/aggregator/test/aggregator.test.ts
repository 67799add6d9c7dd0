import type { FailureRecord } from '@embedcam/explain';
import { imageCounters } from '@embedcam/metrics';
import { getRunProgress, initRun, storageKeys } from '@embedcam/queues';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Aggregator, type AggregatorOptions, startAggregator } from '../src/aggregator.js';
import { countResult } from '../src/count-result.js';
import { okRow, parseImageResult } from '../src/rows.js';
import {
  enqueue,
  expectClose,
  failedJob,
  loadExplainFixture,
  okJob,
  readCounters,
  readReport,
  referenceSummary,
  seedRun,
  syntheticResults,
  type TestEnv,
  testEnv,
  waitFor,
} from './helpers.js';

describe('aggregator service (BullMQ + Redis + local store)', () => {
  let t: TestEnv;
  const running: Aggregator[] = [];
  const start = async (opts: AggregatorOptions = {}) => {
    // BullMQ throttles stalled checks queue-wide by the last checker's interval: keep all short.
    const a = await startAggregator(t.config, {
      store: t.store,
      sweepIntervalMs: 200,
      stalledIntervalMs: 300,
      ...opts,
    });
    running.push(a);
    return a;
  };
  const waitComplete = (runId: string, timeoutMs = 30_000) =>
    waitFor(
      `run ${runId} complete`,
      async () => {
        const p = await getRunProgress(t.redis, t.prefix, runId);
        return p.status === 'complete' ? p : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    t = await testEnv();
  });
  afterEach(async () => {
    for (const a of running.splice(0)) await a.close();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('end to end: every result sent 3×, the report equals `embedcam explain`’s summary.json', async () => {
    const fx = loadExplainFixture();
    const runId = 'cub-e2e';
    await seedRun(t, runId, fx.results, fx.failures);
    const agg = await start();
    const jobs = [...fx.results.map((r) => okJob(runId, r)), ...fx.failures.map((f) => failedJob(runId, f))];
    await enqueue(t.queue, jobs, 3);

    const progress = await waitComplete(runId);
    expect(progress).toMatchObject({ total: 35, done: 35, failed: 4, reportKey: storageKeys.report(runId) });
    expect(progress.completedAt).toBeTruthy();
    // Counted once each; the other 70 deliveries were recognised as repeats.
    await waitFor(
      'all jobs processed',
      async () => agg.stats.counted + agg.stats.repeats === 105 && agg.stats.reports > 0,
    );
    expect(agg.stats).toMatchObject({ counted: 35, repeats: 70, reports: 1 });

    const report = await readReport(t.store, runId);
    const { run, ...rest } = report;
    const { run: _explainRun, ...want } = fx.summary;
    expectClose(rest, want, 1e-9);
    expect(run).toMatchObject({ runId, tau: 0.2, proxyId: 'mean-test', total: 35 });

    const csv = (await t.store.get(storageKeys.imagesCsv(runId))).toString();
    const lines = csv.trimEnd().split('\r\n');
    expect(lines.length).toBe(1 + 35);
    expect(lines.filter((l) => l.includes(',failed,')).length).toBe(4);
  });

  it('lists failures with their reason: bad images, a missing and an invalid result object', async () => {
    const runId = 'failures';
    const ok = syntheticResults(6, 21);
    const reported: FailureRecord[] = [
      { id: 'f-corrupt', uri: 'u/1.jpg', label: 1, code: 'corrupt', message: 'cannot be decoded, truncated' },
      { id: 'f-missing', uri: 'u/2.jpg', label: 2, code: 'not-found', message: 'image u/2.jpg not found' },
      { id: 'f-class', uri: 'u/3.jpg', label: 999, code: 'unknown-class', message: 'Class 999 has no proxy' },
      {
        id: 'f-box',
        uri: 'u/4.jpg',
        label: 3,
        code: 'bad-box',
        message: 'box [900, 900, 40, 40] is not inside',
      },
    ];
    // Two ok results whose objects are broken: never written, and not an ImageResult.
    const ghost = { ...ok[0], id: 'r-ghost' };
    const garbage = { ...ok[1], id: 'r-garbage' };
    await seedRun(t, runId, ok, [], { total: ok.length + reported.length + 2 });
    await t.store.put(storageKeys.result(runId, garbage.id), '{"id": "r-garbage", "label": "x"');
    await start();
    await enqueue(
      t.queue,
      [...ok.map((r) => okJob(runId, r)), ...reported.map((f) => failedJob(runId, f))],
      2,
    );
    await enqueue(t.queue, [okJob(runId, ghost), okJob(runId, garbage)], 1, {
      attempts: 2,
      backoff: { type: 'fixed', delay: 100 },
    });

    await waitComplete(runId);
    const report = await readReport(t.store, runId);
    expect(report.images).toMatchObject({ selected: 12, processed: 6, failed: 6 });
    expect(report.failures.map((f) => [f.id, f.code])).toEqual([
      ['f-box', 'bad-box'],
      ['f-class', 'unknown-class'],
      ['f-corrupt', 'corrupt'],
      ['f-missing', 'not-found'],
      ['r-garbage', 'invalid-result'],
      ['r-ghost', 'result-missing'],
    ]);
    for (const f of reported) expect(report.failures.find((x) => x.id === f.id)).toEqual(f);
    expect(report.failures.find((f) => f.id === 'r-ghost')!.message).toMatch(/not found .*after 2 attempt/);
    expect(report.failures.find((f) => f.id === 'r-garbage')!.message).toMatch(/not JSON/);
    // Failures leave the metrics alone: they equal the reference built from the ok images only.
    expectClose(report.metrics, referenceSummary(ok).metrics, 1e-9);
    const csv = (await t.store.get(storageKeys.imagesCsv(runId))).toString();
    expect(csv).toContain(
      'f-box,failed,3,,u/4.jpg,,,,,,,,,,,,bad-box,"box [900, 900, 40, 40] is not inside"\r\n',
    );
  });

  it('a result object that appears late (first attempt misses it) is retried and counted as ok', async () => {
    const runId = 'late-object';
    const [late, ...rest] = syntheticResults(4, 31);
    await seedRun(t, runId, rest, [], { total: 4 });
    const agg = await start();
    await enqueue(t.queue, [okJob(runId, late)], 1, { attempts: 5, backoff: { type: 'fixed', delay: 300 } });
    const job = await waitFor('a failed first attempt', async () => {
      const j = await t.queue.getJob(`${runId}/${late.id}/result`);
      return j && j.attemptsMade >= 1 ? j : undefined;
    });
    expect(job.failedReason).toMatch(/not found/);
    await t.store.put(storageKeys.result(runId, late.id), JSON.stringify(late));
    await enqueue(
      t.queue,
      rest.map((r) => okJob(runId, r)),
    );
    await waitComplete(runId);
    const report = await readReport(t.store, runId);
    expect(report.failures).toEqual([]);
    expect(agg.stats.counted).toBe(4);
    expectClose({ ...report, run: {} }, referenceSummary([late, ...rest]), 1e-9);
  });

  it('a malformed payload fails its job at once without touching any run', async () => {
    await start();
    await t.queue.add(
      'result',
      { runId: 'bad run id!', imageId: 'x', status: 'ok' },
      { jobId: 'bad-1', attempts: 5 },
    );
    await t.queue.add('result', { runId: 'r', status: 'maybe' }, { jobId: 'bad-2', attempts: 5 });
    for (const id of ['bad-1', 'bad-2']) {
      const job = await waitFor(`job ${id} failed`, async () => {
        const j = await t.queue.getJob(id);
        return j && (await j.getState()) === 'failed' ? j : undefined;
      });
      expect(job.attemptsStarted).toBe(1);
    }
    expect((await t.queue.getJob('bad-1'))!.failedReason).toMatch(/Run id "bad run id!" is invalid/);
    expect((await t.queue.getJob('bad-2'))!.failedReason).toMatch(/status/);
    expect(await t.redis.keys(`${t.prefix}:run:r:*`)).toEqual([]);
    expect(await t.redis.keys(`${t.prefix}:run:bad run id!:*`)).toEqual([]);
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
    const k = t.keys(runId);
    for (const r of results) {
      const p = parseImageResult(JSON.stringify(r));
      await countResult(t.redis, k, {
        status: 'ok',
        imageId: r.id,
        label: r.label,
        row: JSON.stringify(okRow(p)),
        counters: p.metrics ? imageCounters(p.metrics) : {},
      });
    }
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

  it('shares nothing between runs: per-run counters stay separate', async () => {
    const r1 = syntheticResults(8, 81);
    const r2 = syntheticResults(5, 82);
    await seedRun(t, 'run-a', r1);
    await seedRun(t, 'run-b', r2);
    await start();
    await enqueue(t.queue, [...r1.map((r) => okJob('run-a', r)), ...r2.map((r) => okJob('run-b', r))], 2);
    await waitComplete('run-a');
    await waitComplete('run-b');
    expectClose({ ...(await readReport(t.store, 'run-a')), run: {} }, referenceSummary(r1), 1e-9);
    expectClose({ ...(await readReport(t.store, 'run-b')), run: {} }, referenceSummary(r2), 1e-9);
  });
});
