// Closing a worker under load: graceful, and forced (jobs handed back to the queue).
import { expect, it } from 'vitest';
import { type HeatmapWorker, startWorker } from '../src/index.js';
import { createRun, describeWithFixture, jobFor, silent } from './fixture.js';

describeWithFixture('heatmap worker shutdown', (f) => {
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
