// The heatmap worker: a BullMQ consumer of QUEUES.heatmaps. Per job it reads the image (readUri)
// and submits the file to the dynamic batcher, which hands batches to compute threads (one model
// session each). A thread decodes and resizes the images (sharp + prepareForModel), computes
// EmbeddingCAM, the metrics, the heatmap PNG and the overlay. The main thread only does I/O and
// bookkeeping, so its event loop stays responsive and BullMQ keeps renewing job locks under full
// compute load. Results are written to deterministic keys and announced on QUEUES.results.
//
// This module wires the units together; each has its own file:
// JobProcessor (job-processor.ts) → ImageExplainer (explain-image.ts) → BatchRunner (batch-runner.ts)
// → PoolRegistry (@embedcam/compute); ResultPublisher, StallReporter, WorkerStatsRecorder, and the
// shutdown sequence (graceful-shutdown.ts).

import { setTimeout as delay } from 'node:timers/promises';
import { PoolRegistry } from '@embedcam/compute';
import type { Config } from '@embedcam/config';
import {
  advertiseStore,
  createLogger,
  createRedis,
  type Logger,
  QUEUES,
  type StoreAdvert,
  watchConnection,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { Worker } from 'bullmq';
import { BatchRunner } from './batch-runner.js';
import { ImageExplainer } from './explain-image.js';
import { drainWorker, Shutdown } from './graceful-shutdown.js';
import { JobProcessor } from './job-processor.js';
import { PixelBudget } from './pixel-budget.js';
import { ResultPublisher } from './result-publisher.js';
import { StallReporter } from './stall-reporter.js';
import { type WorkerStats, WorkerStatsRecorder } from './worker-stats.js';

export type { WorkerStats };

export interface StartWorkerOptions {
  /** Default: openStore(config.STORAGE_URI) (closed by close()). A given store is not closed. */
  store?: ObjectStore;
  log?: Logger;
  /** How often throughput and event-loop lag are logged. Default 10 000 ms. */
  statsIntervalMs?: number;
  /** close() waits this long for in-flight jobs before handing them back to the queue. Default 25 000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * Start the compute threads for this model ("default", "default-onnx" or a spec path; engine from
   * EMBEDCAM_ENGINE) before the first job, instead of on it. Other models still load on demand.
   */
  preloadModel?: string;
  /** Test hook passed to the compute threads (see ComputeInit.crashOnItemId). */
  crashOnItemId?: string;
}

export interface HeatmapWorker {
  /**
   * Stops taking jobs and lets in-flight ones finish (up to shutdownTimeoutMs); with `force`, or
   * after the timeout, in-flight jobs are handed back to the queue (moved to wait) at once, so
   * another worker picks them up without waiting for their locks to expire. Then closes the
   * compute threads, Redis connections and the store (if opened here). Idempotent.
   */
  close(opts?: { force?: boolean }): Promise<void>;
  stats(): WorkerStats;
  /** The BullMQ worker (events, pause/resume). */
  readonly worker: Worker;
}

export async function startWorker(config: Config, opts: StartWorkerOptions = {}): Promise<HeatmapWorker> {
  const log = opts.log ?? createLogger('worker', config.LOG_LEVEL);
  const ownStore = !opts.store;
  const store = opts.store ?? openStore(config.STORAGE_URI);
  const redis = createRedis(config.REDIS_URL ?? 'redis://127.0.0.1:6379');
  // Every connection below (BullMQ's duplicates too) logs an outage once, here.
  const watch = watchConnection(redis, log, 'worker');
  const prefix = config.EMBEDCAM_PREFIX;

  const results = new ResultPublisher({
    connection: redis,
    prefix,
    attempts: config.JOB_ATTEMPTS,
    log,
    store,
    watch,
  });
  const stats = new WorkerStatsRecorder();
  const pools = new PoolRegistry({ config, log, crashOnItemId: opts.crashOnItemId });
  const batches = new BatchRunner({
    maxSize: config.BATCH_MAX_SIZE,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    threads: config.COMPUTE_THREADS,
    log,
  });
  const budget = new PixelBudget(config.WORKER_PIXEL_BUDGET);
  const images = new ImageExplainer({
    store,
    pools,
    batches,
    stats,
    budget,
    inputs: { allowed: config.EMBEDCAM_ALLOWED_URIS, maxBytes: config.EMBEDCAM_MAX_READ_BYTES },
  });
  const processor = new JobProcessor({ images, results, stats, log });

  let advert: StoreAdvert | undefined;
  /** What outlives the BullMQ side: closed last, also when start-up fails. */
  async function release(): Promise<void> {
    await advert?.stop();
    await results.close();
    await redis.quit().catch(() => redis.disconnect());
    if (ownStore) await store.close();
    stats.close();
  }

  // One store per deployment: refuse to start beside services that use another one.
  try {
    advert = await advertiseStore(redis, prefix, store.uri, 'worker');
  } catch (err) {
    await release();
    throw err;
  }

  if (opts.preloadModel) {
    try {
      await pools.get(pools.key(opts.preloadModel));
    } catch (err) {
      await release();
      throw err;
    }
  }

  const worker = new Worker(QUEUES.heatmaps, processor.process, {
    connection: redis,
    prefix,
    concurrency: config.WORKER_CONCURRENCY,
    // Compute runs on threads, so the event loop stays free and BullMQ's lock renewal (every
    // lockDuration/2) keeps working under full load: the defaults fit. A job only stalls when its
    // worker dies; it is then retried once (maxStalledCount) by another worker.
    lockDuration: config.JOB_LOCK_MS,
    stalledInterval: config.STALLED_INTERVAL_MS,
    maxStalledCount: 1,
  });
  watch.add(worker);
  const stalls = new StallReporter({ connection: redis, prefix, results, log, watch });
  try {
    await worker.waitUntilReady();
    await stalls.waitUntilReady();
  } catch (err) {
    // Nothing may keep running (or keep consuming jobs) after a failed start. BullMQ's closes can
    // wait for a Redis that is not there, so they get two seconds.
    await Promise.race([Promise.allSettled([worker.close(true), stalls.close()]), delay(2000)]);
    await batches.close();
    await pools.close();
    await release();
    throw err;
  }

  const current = () =>
    stats.snapshot({ active: processor.activeCount, batcher: batches.stats(), compute: pools.stats() });
  stats.logEvery(opts.statsIntervalMs ?? 10_000, log, current);

  const shutdown = new Shutdown(async (forced) => {
    const timeoutMs = opts.shutdownTimeoutMs ?? config.WORKER_SHUTDOWN_TIMEOUT_MS;
    await drainWorker(worker, processor, { timeoutMs, forced, log });
    await stalls.close();
    await batches.close();
    await pools.close();
    await release();
    log.info(stats.counts(), 'worker closed');
  });

  return { worker, stats: current, close: (o) => shutdown.close(o) };
}
