// Benchmark: images/s through one heatmap worker (real Redis, LocalStore temp dir, model preloaded)
// against the one-process path on the same images, plus the worker's event-loop lag.
// Run: npx tsx services/worker/bench/worker-throughput.ts [copies=2] [threads=cores] [concurrency=32]
import os from 'node:os';
import { startWorker } from '../src/index.js';
import { createFixture, createRun, inProcessBaseline, jobFor, silent } from '../test/fixture.js';

const copies = Number(process.argv[2] ?? 2);
const threads = Number(process.argv[3] ?? os.availableParallelism());
const concurrency = Number(process.argv[4] ?? 32);
const f = await createFixture();
const run = await createRun(f, {
  COMPUTE_THREADS: threads,
  WORKER_CONCURRENCY: concurrency,
  BATCH_MAX_SIZE: 16,
  BATCH_MAX_WAIT_MS: 25,
});
try {
  const images = f.testItems;
  const baseline = await inProcessBaseline(f, images);
  const jobs = Array.from({ length: copies }, (_, k) =>
    images.map((it) => jobFor(run.runId, it, { imageId: `${it.id}-${k}` })),
  ).flat();
  const w = await startWorker(run.config, { store: f.store, log: silent, preloadModel: 'default' });
  const t = performance.now();
  await run.add(jobs);
  for (;;) {
    const c = await run.results.getJobCounts('waiting');
    if (c.waiting >= jobs.length) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - t) / 1000;
  const s = w.stats();
  console.log(
    JSON.stringify({
      cores: os.availableParallelism(),
      loadAverage1m: +os.loadavg()[0].toFixed(2),
      images: jobs.length,
      computeThreads: threads,
      concurrency,
      workerImagesPerSecond: +(jobs.length / seconds).toFixed(1),
      inProcessComputeOnly: +baseline.compute.toFixed(1),
      inProcessWithDecodePngOverlay: +baseline.pipeline.toFixed(1),
      eventLoopLagP99Ms: s.eventLoopLagP99Ms,
      eventLoopLagMaxMs: s.eventLoopLagMaxMs,
      meanBatchSize: +s.batcher.meanBatchSize.toFixed(1),
      stageMeanMs: Object.fromEntries(Object.entries(s.stageMeanMs).map(([k, v]) => [k, Math.round(v)])),
      threadUtilisation: s.compute.map((c) => +(c.computeMs / (c.threads * seconds * 1000)).toFixed(2)),
    }),
  );
  await w.close();
} finally {
  await run.cleanup();
  await f.close();
}
