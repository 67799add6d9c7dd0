import os from 'node:os';
import path from 'node:path';
import {
  type ExplainedImage,
  evaluateMap,
  explainBatch,
  type ImageResult,
  loadItems,
  readLocalImage,
} from '@embedcam/explain';
import { decodeHeatmapPng, quantiseUnit, readImageSize } from '@embedcam/images';
import { resultJobId, storageKeys } from '@embedcam/queues';
import { type ObjectStore, StorageError } from '@embedcam/storage';
import { HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HeatmapWorker, startWorker } from '../src/index.js';
import { createFixture, createRun, type Fixture, inProcessBaseline, jobFor, silent } from './fixture.js';

let f: Fixture;

/** Deep equality with numbers compared to `tol` (absolute). */
function expectClose(actual: unknown, expected: unknown, tol: number, at = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isNaN(expected)) expect(Number.isNaN(actual), at).toBe(true);
    else expect(Math.abs(actual - expected), `${at}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(expected) || ArrayBuffer.isView(expected)) {
    const a = actual as ArrayLike<unknown>;
    const e = expected as ArrayLike<unknown>;
    expect(a.length, `${at}.length`).toBe(e.length);
    for (let i = 0; i < e.length; i++) expectClose(a[i], e[i], tol, `${at}[${i}]`);
  } else if (expected && typeof expected === 'object') {
    expect(actual, at).toBeTypeOf('object');
    expect(Object.keys(actual as object).sort(), `${at} keys`).toEqual(Object.keys(expected).sort());
    for (const k of Object.keys(expected))
      expectClose((actual as never)[k], (expected as never)[k], tol, `${at}.${k}`);
  } else {
    expect(actual, at).toEqual(expected);
  }
}

async function readResult(store: ObjectStore, key: string): Promise<ImageResult> {
  return JSON.parse((await store.get(key)).toString('utf8')) as ImageResult;
}

describe.skipIf(!HAS_SHARED)('heatmap worker (real Redis, LocalStore, shared MobileNetV2, CUB)', () => {
  beforeAll(async () => {
    f = await createFixture();
  });
  afterAll(async () => {
    await f?.close();
  });

  it('computes heatmaps, files and metrics identical to in-process explainBatch; bad inputs fail with their code', async () => {
    const run = await createRun(f);
    let w: HeatmapWorker | undefined;
    try {
      const good = f.testItems.filter((_, i) => i % 10 === 0).slice(0, 8);
      expect(good).toHaveLength(8);
      const base = good[0];
      const jobs = [
        ...good.map((it) => jobFor(run.runId, it)),
        jobFor(run.runId, base, { imageId: 'corrupt', uri: f.corruptPath }),
        jobFor(run.runId, base, { imageId: 'missing', uri: path.join(f.tmp, 'nope.jpg') }),
        jobFor(run.runId, base, { imageId: 'unknown-class', label: 77 }),
        jobFor(run.runId, base, { imageId: 'box-outside', bbox: [5000, 5000, 20, 20] }),
        jobFor(run.runId, base, { imageId: 'bad-uri', uri: 'gopher://x/y.jpg' }),
      ];
      await run.add(jobs);
      // A payload that breaks the schema (label is not a number) still gets a failed result.
      await run.heatmaps.add(
        'heatmap',
        { runId: run.runId, imageId: 'malformed', uri: base.uri, label: 'one' },
        { jobId: 'malformed', attempts: 3 },
      );
      w = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(jobs.length + 1);
      const byId = new Map(results.map((r) => [r.imageId, r]));
      expect(byId.size).toBe(jobs.length + 1);

      const failures = Object.fromEntries(
        results.filter((r) => r.status === 'failed').map((r) => [r.imageId, r.failure!.code]),
      );
      expect(failures).toEqual({
        corrupt: 'corrupt',
        missing: 'not-found',
        'unknown-class': 'unknown-class',
        'box-outside': 'bad-box',
        'bad-uri': 'bad-uri',
        malformed: 'bad-payload',
      });
      expect(byId.get('missing')!.failure!.message).toContain('nope.jpg');
      expect(byId.get('unknown-class')!.failure!.message).toMatch(/Class 77 has no proxy/);
      expect(byId.get('malformed')!.failure!.message).toMatch(/label/);

      // Result jobs carry deterministic ids; heatmap jobs all completed (permanent failures are not retried).
      const resultJobs = await run.results.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
      for (const j of resultJobs) expect(j.id).toBe(resultJobId(j.data.runId, j.data.imageId));
      const counts = await run.heatmaps.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
      expect(counts).toEqual({ completed: jobs.length + 1, failed: 0, waiting: 0, active: 0, delayed: 0 });
      const corruptJob = await run.heatmaps.getJob(`${run.runId}/corrupt`);
      expect(corruptJob!.returnvalue).toEqual({ status: 'failed', code: 'corrupt' });
      expect(corruptJob!.attemptsStarted).toBe(1);

      // The same images in this process.
      const { loaded } = await loadItems(good, f.cam.model.spec, readLocalImage);
      const ref = await explainBatch(f.cam, loaded, f.proxies);
      expect(ref.explained).toHaveLength(8);
      for (const e of ref.explained as ExplainedImage[]) {
        const r = byId.get(e.item.id)!;
        expect(r).toMatchObject({
          status: 'ok',
          key: storageKeys.result(run.runId, e.item.id),
          label: e.item.label,
        });
        const stored = await readResult(f.store, r.key!);
        expect(stored).toMatchObject({
          id: e.item.id,
          uri: e.item.uri,
          label: e.item.label,
          className: e.item.className,
          bbox: e.item.bbox,
          original: e.image.original,
          targetLabel: e.targetLabel,
          nearestLabel: e.nearestLabel,
          allZero: e.evaluated.allZero,
          heatmap: storageKeys.heatmap(run.runId, e.item.id),
          overlay: storageKeys.overlay(run.runId, e.item.id),
        });
        expect(stored.score).toBeCloseTo(e.score, 6);
        expectClose(stored.rawMap.data, Array.from(e.raw.data), 1e-6, `${e.item.id}.rawMap`);
        expectClose(stored.metrics, e.evaluated.metrics, 1e-9, `${e.item.id}.metrics`);
        // …and evaluateMap on the stored raw map gives the stored metrics.
        const again = evaluateMap(
          Float32Array.from(stored.rawMap.data),
          stored.rawMap.width,
          stored.rawMap.height,
          stored.original,
          stored.bbox,
        );
        expectClose(stored.metrics, again.metrics, 1e-9, `${e.item.id}.evaluateMap`);

        const png = await decodeHeatmapPng(await f.store.get(stored.heatmap!));
        expect([png.width, png.height]).toEqual([224, 224]);
        const want = e.evaluated.heatmap.data;
        let worst = 0;
        for (let i = 0; i < want.length; i++)
          worst = Math.max(worst, Math.abs(Math.round(png.data[i] * 255) - quantiseUnit(want[i])));
        expect(worst).toBe(0);
        const overlay = await readImageSize(await f.store.get(stored.overlay!), 'overlay');
        expect(overlay).toEqual(e.image.original);
      }
      const s = w.stats();
      expect(s.jobs).toMatchObject({ ok: 8, failed: 6, completed: 14, retried: 0, active: 0 });
      expect(s.compute).toHaveLength(1);
      expect(s.compute[0]).toMatchObject({ threads: 2, crashes: 0 });
      expect(s.batcher.items).toBe(11); // 8 good + corrupt + unknown class + bad box reach the threads
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('keeps the event loop responsive under full compute load (and reports throughput)', async () => {
    const run = await createRun(f, { WORKER_CONCURRENCY: 32, BATCH_MAX_SIZE: 16, BATCH_MAX_WAIT_MS: 25 });
    let w: HeatmapWorker | undefined;
    try {
      const images = f.testItems;
      const copies = 3;
      const jobs = Array.from({ length: copies }, (_, k) =>
        images.map((it) => jobFor(run.runId, it, { imageId: `${it.id}-${k}` })),
      ).flat();
      // In-process baseline first (so it does not compete with the worker).
      const baseline = await inProcessBaseline(f, images);

      w = await startWorker(run.config, { store: f.store, log: silent, preloadModel: 'default' });
      await run.add(jobs);
      let stalled = 0;
      w.worker.on('stalled', () => stalled++);
      const started = performance.now();
      const results = await run.waitForResults(jobs.length, 240_000);
      const seconds = (performance.now() - started) / 1000;
      const s = w.stats();
      console.log(
        `[worker load] ${jobs.length} images in ${seconds.toFixed(1)} s = ${(jobs.length / seconds).toFixed(1)} img/s ` +
          `through the worker (${run.config.COMPUTE_THREADS} compute threads, load average ${os.loadavg()[0].toFixed(1)}); ` +
          `in-process (this thread, batches of 16): explainBatch alone ${baseline.compute.toFixed(1)} img/s, ` +
          `with decode + PNG + overlay ${baseline.pipeline.toFixed(1)} img/s; ` +
          `event-loop lag p99 ${s.eventLoopLagP99Ms} ms, max ${s.eventLoopLagMaxMs} ms; mean batch ${s.batcher.meanBatchSize.toFixed(1)}; ` +
          `stage means (ms) ${JSON.stringify(Object.fromEntries(Object.entries(s.stageMeanMs).map(([k, v]) => [k, Math.round(v)])))}`,
      );
      expect(results.filter((r) => r.status === 'ok')).toHaveLength(jobs.length);
      expect(stalled).toBe(0);
      expect(s.eventLoopLagP99Ms).toBeGreaterThan(0);
      expect(s.eventLoopLagP99Ms).toBeLessThan(200);
      expect(s.batcher.meanBatchSize).toBeGreaterThan(1); // batches really formed across jobs
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('close() under load finishes in-flight jobs, leaves the rest queued, and another worker completes the run', async () => {
    const run = await createRun(f, { WORKER_CONCURRENCY: 8, BATCH_MAX_SIZE: 4 });
    let w1: HeatmapWorker | undefined;
    let w2: HeatmapWorker | undefined;
    try {
      const jobs = f.testItems.slice(0, 40).map((it) => jobFor(run.runId, it));
      await run.add(jobs);
      w1 = await startWorker(run.config, { store: f.store, log: silent });
      await run.waitForResults(5);
      expect(w1.stats().jobs.active).toBeGreaterThan(0);
      await w1.close();
      const afterClose = await run.heatmaps.getJobCounts('completed', 'failed', 'active', 'waiting');
      expect(afterClose.active).toBe(0);
      expect(afterClose.failed).toBe(0);
      expect(afterClose.completed).toBe(w1.stats().jobs.completed);
      expect(afterClose.completed + afterClose.waiting).toBe(40);
      expect(afterClose.waiting).toBeGreaterThan(0);
      expect((await run.results.getJobs(['waiting'])).length).toBe(afterClose.completed);

      w2 = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(40);
      expect(new Set(results.map((r) => r.imageId)).size).toBe(40);
      expect(results.every((r) => r.status === 'ok')).toBe(true);
      expect(w1.stats().jobs.completed + w2.stats().jobs.completed).toBe(40);
    } finally {
      await w1?.close();
      await w2?.close();
      await run.cleanup();
    }
  });

  it('close({ force: true }) hands in-flight jobs back to the queue at once', async () => {
    const run = await createRun(f, { WORKER_CONCURRENCY: 16, BATCH_MAX_SIZE: 16, COMPUTE_THREADS: 1 });
    let w1: HeatmapWorker | undefined;
    let w2: HeatmapWorker | undefined;
    try {
      const jobs = f.testItems.slice(0, 30).map((it) => jobFor(run.runId, it));
      await run.add(jobs);
      w1 = await startWorker(run.config, { store: f.store, log: silent });
      await run.waitForResults(1);
      const active = w1.stats().jobs.active;
      expect(active).toBeGreaterThan(0);
      const t0 = performance.now();
      await w1.close({ force: true });
      const closeMs = performance.now() - t0;
      const counts = await run.heatmaps.getJobCounts('completed', 'failed', 'active', 'waiting');
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.completed + counts.waiting).toBe(30);
      expect(closeMs).toBeLessThan(10_000); // did not wait for a lock to expire (30 s)

      w2 = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(30);
      expect(new Set(results.map((r) => r.imageId)).size).toBe(30);
      expect(results.every((r) => r.status === 'ok')).toBe(true);
    } finally {
      await w1?.close();
      await w2?.close();
      await run.cleanup();
    }
  });

  it('retries transient errors with backoff; after the last attempt the image gets a failed result (code error)', async () => {
    const run = await createRun(f, { JOB_ATTEMPTS: 3 });
    let w: HeatmapWorker | undefined;
    const [flaky, broken, fine] = f.testItems.slice(0, 3);
    let flakyFailures = 0;
    // A store whose writes fail transiently: once for `flaky`, always for `broken`.
    const store: ObjectStore = Object.create(f.store, {
      put: {
        value: async (key: string, body: Buffer | string, o?: { contentType?: string }) => {
          if (key === storageKeys.heatmap(run.runId, flaky.id) && flakyFailures++ === 0)
            throw new StorageError('connection reset (simulated)');
          if (key === storageKeys.heatmap(run.runId, broken.id))
            throw new StorageError('S3 is down (simulated)');
          return f.store.put(key, body, o);
        },
      },
    });
    try {
      await run.add(
        [flaky, broken, fine].map((it) => jobFor(run.runId, it)),
        { attempts: 3, backoffMs: 50 },
      );
      w = await startWorker(run.config, { store, log: silent });
      const results = await run.waitForResults(3);
      const byId = new Map(results.map((r) => [r.imageId, r]));
      expect(byId.get(flaky.id)!.status).toBe('ok');
      expect(byId.get(fine.id)!.status).toBe('ok');
      expect(byId.get(broken.id)).toMatchObject({
        status: 'failed',
        failure: { code: 'error', message: 'S3 is down (simulated)' },
      });
      const flakyJob = await run.heatmaps.getJob(`${run.runId}/${flaky.id}`);
      expect(flakyJob!.attemptsStarted).toBe(2);
      expect(await flakyJob!.getState()).toBe('completed');
      // The broken job ends failed in BullMQ too (visible to operators), after all its attempts.
      for (let i = 0; i < 50 && (await run.heatmaps.getJobCounts('failed')).failed === 0; i++)
        await new Promise((r) => setTimeout(r, 50));
      const brokenJob = await run.heatmaps.getJob(`${run.runId}/${broken.id}`);
      expect(await brokenJob!.getState()).toBe('failed');
      expect(brokenJob!.attemptsStarted).toBe(3);
      expect(w.stats().jobs.retried).toBe(3); // flaky once, broken twice
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('a compute-thread crash costs only the image that caused it; the thread is replaced', async () => {
    const run = await createRun(f, { BATCH_MAX_WAIT_MS: 200, JOB_ATTEMPTS: 2 });
    let w: HeatmapWorker | undefined;
    try {
      const items = f.testItems.slice(0, 6);
      const jobs = items.map((it, i) => jobFor(run.runId, it, i === 2 ? { imageId: 'poison' } : {}));
      await run.add(jobs, { attempts: 2, backoffMs: 50 });
      w = await startWorker(run.config, { store: f.store, log: silent, crashOnItemId: 'poison' });
      const results = await run.waitForResults(6);
      const failed = results.filter((r) => r.status === 'failed');
      expect(failed.map((r) => [r.imageId, r.failure!.code])).toEqual([['poison', 'error']]);
      expect(failed[0].failure!.message).toMatch(/exited with code 70/);
      expect(results.filter((r) => r.status === 'ok')).toHaveLength(5);
      const s = w.stats();
      expect(s.compute[0].crashes).toBeGreaterThanOrEqual(2); // once per attempt of the poison
      expect(s.compute[0].threads).toBe(2);
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('refuses a run whose model fingerprint differs from the loaded model (permanent, model-mismatch)', async () => {
    const run = await createRun(f, {}, { modelFingerprint: '0123456789abcdef' });
    let w: HeatmapWorker | undefined;
    try {
      await run.add(f.testItems.slice(0, 2).map((it) => jobFor(run.runId, it)));
      w = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(2);
      expect(results.map((r) => r.failure?.code)).toEqual(['model-mismatch', 'model-mismatch']);
      expect(results[0].failure!.message).toMatch(/0123456789abcdef/);
      expect(w.stats().jobs.retried).toBe(0);
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('a model spec that cannot be loaded fails the run’s images at once (bad-model)', async () => {
    const run = await createRun(f, {}, { model: path.join(f.tmp, 'no-such-spec.json') });
    let w: HeatmapWorker | undefined;
    try {
      await run.add(f.testItems.slice(0, 3).map((it) => jobFor(run.runId, it)));
      w = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(3);
      expect(results.map((r) => r.failure?.code)).toEqual(['bad-model', 'bad-model', 'bad-model']);
      expect(results[0].failure!.message).toMatch(/no-such-spec\.json/);
      expect(w.stats().jobs.retried).toBe(0);
      expect(w.stats().compute).toHaveLength(0);
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('a run without run.json is retried, then reported as run-not-found', async () => {
    const run = await createRun(f);
    let w: HeatmapWorker | undefined;
    try {
      await run.add([jobFor('no-such-run', f.testItems[0])], { attempts: 2, backoffMs: 50 });
      w = await startWorker(run.config, { store: f.store, log: silent });
      const [r] = await run.waitForResults(1);
      expect(r).toMatchObject({ runId: 'no-such-run', status: 'failed', failure: { code: 'run-not-found' } });
      expect(w.stats().jobs.retried).toBe(1);
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });
});
