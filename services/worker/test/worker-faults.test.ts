// Faults around the image: transient storage errors, a crashing compute thread, a model or run
// that does not fit; and closing a worker under load, gracefully and forced (jobs handed back).
// One file, so the model fixture is built once for both.
import path from 'node:path';
import { storageKeys } from '@embedcam/queues';
import { type ObjectStore, StorageError } from '@embedcam/storage';
import { expect, it } from 'vitest';
import { type HeatmapWorker, startWorker } from '../src/index.js';
import { createRun, describeWithFixture, jobFor, silent } from './fixture.js';

describeWithFixture('heatmap worker faults and shutdown', (f) => {
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
});
