// The worker under full compute load: throughput, batching and a responsive event loop.
import os from 'node:os';
import { expect, it } from 'vitest';
import { type HeatmapWorker, startWorker } from '../src/index.js';
import { createRun, describeWithFixture, inProcessBaseline, jobFor, silent } from './fixture.js';

describeWithFixture('heatmap worker under load', (f) => {
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
});
