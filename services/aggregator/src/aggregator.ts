import os from 'node:os';
import type { Config } from '@embedcam/config';
import {
  advertiseStore,
  createLogger,
  createRedis,
  JOB_RETENTION,
  type Logger,
  QUEUES,
  type ResultJob,
  type StoreAdvert,
  watchConnection,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { type Job, Worker } from 'bullmq';
import { createReportWriter } from './report-writer.js';
import { createResultIntake, parseResultJob } from './result-intake.js';
import { createSweeper } from './sweeper.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface AggregatorOptions {
  /** Where results are read and reports written (default: openStore(config.STORAGE_URI), closed on close). */
  store?: ObjectStore;
  log?: Logger;
  /** Result jobs processed at once (default 16). */
  concurrency?: number;
  /** BullMQ job lock; a job held by a dead aggregator is retried after it expires (default 30 s). */
  lockDurationMs?: number;
  /** How often BullMQ looks for stalled jobs (default 30 s). */
  stalledIntervalMs?: number;
  /**
   * How often a job may stall (its aggregator died) before BullMQ fails it. Counting is
   * idempotent, so retrying is always safe (default 10).
   */
  maxStalledCount?: number;
  /** How often runs are checked for a missing or stale report (default 5 s); 0 disables the timer. */
  sweepIntervalMs?: number;
  /** Every n-th sweep also scans Redis for runs this process has not seen (default 12). */
  fullScanEvery?: number;
  /** Expiry of the report-writing lock, in case its holder dies (default 2 min). */
  reportLockMs?: number;
  /** Test hook, run after an image was counted (or found counted) and before the report check. */
  afterCount?: (result: ResultJob, counted: boolean, jobId: string | undefined) => Promise<void> | void;
}

export interface AggregatorStats {
  /** Images counted by this process. */
  counted: number;
  /** Results of images that were already counted (retries, duplicates). */
  repeats: number;
  /** Reports written by this process. */
  reports: number;
}

export interface Aggregator {
  /**
   * Stops taking jobs, lets the running ones finish and closes connections. `force` drops
   * everything at once, as a crash would: running jobs are left to stall and be retried.
   */
  close(opts?: { force?: boolean }): Promise<void>;
  /** Checks runs now: writes reports that are missing or older than the counts. */
  sweep(opts?: { full?: boolean }): Promise<void>;
  readonly stats: AggregatorStats;
}

/**
 * The aggregator: consumes `results` jobs, counts each image exactly once per run and per class
 * (result-intake.ts, one Redis script), and when a run's images are all counted writes
 * `runs/<runId>/images.csv` and `runs/<runId>/report.json`, then marks the run complete
 * (report-writer.ts); a periodic sweep catches the runs whose report is still missing
 * (sweeper.ts). Any number of aggregators may run side by side.
 */
export async function startAggregator(config: Config, opts: AggregatorOptions = {}): Promise<Aggregator> {
  const prefix = config.EMBEDCAM_PREFIX;
  const url = config.REDIS_URL ?? DEFAULT_REDIS_URL;
  const log = opts.log ?? createLogger('aggregator', config.LOG_LEVEL);
  const concurrency = opts.concurrency ?? 16;
  const ownStore = !opts.store;
  const store = opts.store ?? openStore(config.STORAGE_URI);
  // Both connections (and the worker's duplicate) log an outage once, and once when it is over.
  const redis = createRedis(url);
  const workerConnection = createRedis(url);
  const watch = watchConnection(redis, log, 'aggregator');
  watch.add(workerConnection);
  const stats: AggregatorStats = { counted: 0, repeats: 0, reports: 0 };

  const intake = createResultIntake({ redis, prefix, store, log, stats });
  const reports = createReportWriter({
    redis,
    prefix,
    store,
    log,
    stats,
    lockMs: opts.reportLockMs ?? 120_000,
  });
  const sweeper = createSweeper({
    redis,
    prefix,
    log,
    report: (runId) => reports.writeIfNeededSafely(runId),
    intervalMs: opts.sweepIntervalMs ?? 5_000,
    fullScanEvery: opts.fullScanEvery ?? 12,
  });

  async function processJob(job: Job): Promise<{ counted: boolean }> {
    const result = parseResultJob(job.data);
    sweeper.track(result.runId);
    const counted = await intake.count(job, result);
    await opts.afterCount?.(result, counted, job.id);
    // A report error never fails a result job (the count is in): the sweep tries again.
    await reports.writeIfNeededSafely(result.runId);
    return { counted };
  }

  // One store per deployment: refuse to start beside services that use another one.
  let advert: StoreAdvert;
  try {
    advert = await advertiseStore(redis, prefix, store.uri, 'aggregator');
  } catch (err) {
    redis.disconnect();
    workerConnection.disconnect();
    throw err;
  }

  const worker = new Worker(QUEUES.results, processJob, {
    connection: workerConnection,
    prefix,
    name: `aggregator-${os.hostname()}-${process.pid}`,
    concurrency,
    lockDuration: opts.lockDurationMs ?? config.JOB_LOCK_MS,
    stalledInterval: opts.stalledIntervalMs ?? config.STALLED_INTERVAL_MS,
    maxStalledCount: opts.maxStalledCount ?? 10,
    ...JOB_RETENTION.results,
  });
  watch.add(worker);
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'result job failed'),
  );

  try {
    await worker.waitUntilReady();
    await redis.ping();
  } catch (err) {
    await advert.stop();
    await worker.close(true).catch(() => {});
    redis.disconnect();
    workerConnection.disconnect();
    throw err;
  }
  // A run whose counts completed while no aggregator was writing (a crash between counting and
  // writing) gets its report now.
  await sweeper.sweep({ full: true });
  sweeper.start();
  log.info({ prefix, queue: QUEUES.results, store: store.uri, concurrency }, 'aggregator started');

  // One close however often it is asked for; a later `force` (a second signal) drops the
  // connections at once, as a crash would: running jobs stall and are retried elsewhere.
  let closing: Promise<void> | undefined;
  let forced = false;
  function force(): Promise<void> {
    forced = true;
    const dropped = worker.close(true).catch(() => {});
    redis.disconnect();
    workerConnection.disconnect();
    return dropped;
  }
  async function shutdown(o: { force?: boolean }): Promise<void> {
    await advert.stop();
    void sweeper.stop(); // no more timed sweeps from now on
    if (o.force) await force();
    else {
      await worker.close();
      await sweeper.stop();
      if (!forced) {
        await redis.quit().catch(() => redis.disconnect());
        await workerConnection.quit().catch(() => workerConnection.disconnect());
      }
    }
    if (ownStore) await store.close();
    log.info({ ...stats }, 'aggregator closed');
  }
  return {
    stats,
    sweep: (o) => sweeper.sweep(o),
    close(o: { force?: boolean } = {}) {
      if (closing && o.force && !forced) void force();
      closing ??= shutdown(o);
      return closing;
    },
  };
}
