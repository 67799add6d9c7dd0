import type { FailureRecord } from '@embedcam/explain';
import { storageKeys } from '@embedcam/queues';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAggregators } from './harness.js';
import {
  enqueue,
  expectClose,
  failedJob,
  loadExplainFixture,
  okJob,
  readReport,
  referenceSummary,
  seedRun,
  syntheticResults,
  type TestEnv,
  waitFor,
} from './helpers.js';

// What a run's results become: the report and images.csv, failures included.
describe('aggregator service: results to report (BullMQ + Redis + local store)', () => {
  const { env, start, waitComplete } = useAggregators();
  let t: TestEnv;
  beforeAll(() => {
    t = env();
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
