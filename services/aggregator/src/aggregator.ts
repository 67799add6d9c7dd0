import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Config } from '@embedcam/config';
import { imageCounters } from '@embedcam/metrics';
import {
  createLogger,
  createRedis,
  isPermanent,
  JOB_RETENTION,
  type Logger,
  parsePayload,
  QUEUES,
  type ResultJob,
  readRunConfig,
  resultJobSchema,
  runKeys,
  storageKeys,
  validateRunId,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { type CountInput, countResult, defineCountCommand } from './count-result.js';
import { buildReport, imagesCsv, readStableRunState } from './report.js';
import { failedRow, okRow, parseImageResult } from './rows.js';

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

interface RunMeta {
  total?: string;
  status?: string;
  reportedDone?: string;
}

/** A run needs a (new) report when every image is counted and no report covers all of them. */
function needsReport(meta: RunMeta, done: number): boolean {
  if (meta.total === undefined) return false;
  const total = Number(meta.total);
  return (
    Number.isFinite(total) &&
    done >= total &&
    (meta.status !== 'complete' || Number(meta.reportedDone) !== done)
  );
}

/** Frees the report lock only when this process still holds it. */
const RELEASE_LOCK_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The aggregator: consumes `results` jobs, counts each image exactly once per run and per class
 * (one Redis script, see count-result.ts), and when a run's images are all counted writes
 * `runs/<runId>/images.csv` and `runs/<runId>/report.json`, then marks the run complete.
 * Any number of aggregators may run side by side.
 */
export async function startAggregator(config: Config, opts: AggregatorOptions = {}): Promise<Aggregator> {
  const prefix = config.EMBEDCAM_PREFIX;
  const url = config.REDIS_URL ?? DEFAULT_REDIS_URL;
  const log = opts.log ?? createLogger('aggregator', config.LOG_LEVEL);
  const ownStore = !opts.store;
  const store = opts.store ?? openStore(config.STORAGE_URI);
  const redis = createRedis(url);
  redis.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  defineCountCommand(redis);
  const workerConnection = createRedis(url);
  workerConnection.on('error', (err) => log.warn({ err: err.message }, 'redis connection error (worker)'));

  const stats: AggregatorStats = { counted: 0, repeats: 0, reports: 0 };
  /** Runs this process has seen and not yet seen reported; the sweep checks them. */
  const known = new Set<string>();
  const lastDone = new Map<string, number>();
  const lastReportError = new Map<string, string>();
  const reportLockMs = opts.reportLockMs ?? 120_000;

  async function loadRun(runId: string): Promise<{ run: Record<string, unknown>; tau: number }> {
    const r = await readRunConfig(store, runId);
    if (r.ok) return { run: r.config as Record<string, unknown>, tau: r.config.tau };
    log.warn(
      { runId, key: r.key, err: r.message },
      'run.json is missing or invalid: the report uses τ = 0.2',
    );
    return { run: r.problem === 'missing' ? { runId } : { runId, configError: r.message }, tau: 0.2 };
  }

  /** Writes the report unless another aggregator is writing it; true when written. */
  async function writeReport(runId: string): Promise<boolean> {
    const k = runKeys(prefix, runId);
    const token = randomUUID();
    if ((await redis.set(k.reportLock, token, 'PX', reportLockMs, 'NX')) !== 'OK') return false;
    try {
      const state = await readStableRunState(redis, prefix, runId);
      const { run, tau } = await loadRun(runId);
      const report = buildReport(state, { run, tau });
      const reportKey = storageKeys.report(runId);
      await store.put(storageKeys.imagesCsv(runId), imagesCsv(state.rows), { contentType: 'text/csv' });
      await store.put(reportKey, `${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
      await redis.hset(k.meta, {
        status: 'complete',
        reportKey,
        completedAt: new Date().toISOString(),
        reportedDone: String(state.done),
      });
      stats.reports++;
      lastReportError.delete(runId);
      log.info(
        { runId, reportKey, images: report.images, store: store.uri },
        `run ${runId} complete: report written`,
      );
      return true;
    } finally {
      await redis.eval(RELEASE_LOCK_LUA, 1, k.reportLock, token).catch(() => {});
    }
  }

  async function checkRun(runId: string): Promise<void> {
    const k = runKeys(prefix, runId);
    const res = await redis.multi().hgetall(k.meta).scard(k.done).exec();
    const meta = (res?.[0]?.[1] ?? {}) as RunMeta;
    const done = Number(res?.[1]?.[1] ?? 0);
    if (needsReport(meta, done)) await writeReport(runId);
  }

  /** Report errors never fail a result job (the count is in); the sweep tries again. */
  async function checkRunSafely(runId: string): Promise<void> {
    try {
      await checkRun(runId);
    } catch (err) {
      const msg = (err as Error).message;
      if (lastReportError.get(runId) !== msg) {
        lastReportError.set(runId, msg);
        log.error({ runId, err: msg }, 'cannot write the report yet; will retry');
      }
    }
  }

  async function toCountInput(job: Job, r: ResultJob): Promise<CountInput> {
    const failed = (code: string, message: string, uri = r.uri ?? '', label = r.label): CountInput => ({
      status: 'failed',
      imageId: r.imageId,
      label,
      // The worker may leave the label out of a failure; -1 marks it unknown.
      row: JSON.stringify(failedRow({ id: r.imageId, uri, label: label ?? -1, code, message })),
    });
    if (r.status === 'failed') {
      const f = r.failure ?? { code: 'unknown', message: 'the worker reported a failure without a reason' };
      return failed(f.code, f.message);
    }
    if (!r.key) return failed('invalid-result', 'the result job has status ok but no storage key');
    let bytes: Buffer | null;
    try {
      bytes = await store.getOrNull(r.key);
    } catch (err) {
      if (isPermanent(err))
        return failed('invalid-result', `cannot read ${r.key}: ${(err as Error).message}`);
      throw err;
    }
    if (bytes === null) {
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 < attempts) {
        throw new Error(
          `result object ${r.key} not found in ${store.uri} (attempt ${job.attemptsMade + 1}/${attempts})`,
        );
      }
      return failed(
        'result-missing',
        `result object ${r.key} not found in ${store.uri} after ${attempts} attempt(s)`,
      );
    }
    try {
      const result = parseImageResult(bytes);
      if (result.id !== r.imageId) throw new Error(`it holds image "${result.id}", not "${r.imageId}"`);
      const counters = result.metrics ? imageCounters(result.metrics) : {};
      return {
        status: 'ok',
        imageId: r.imageId,
        label: result.label,
        row: JSON.stringify(okRow(result)),
        counters,
      };
    } catch (err) {
      return failed(
        'invalid-result',
        `result object ${r.key} is not a valid image result: ${(err as Error).message}`,
      );
    }
  }

  async function processJob(job: Job): Promise<{ counted: boolean }> {
    let r: ResultJob;
    try {
      r = parsePayload(resultJobSchema, job.data, `${QUEUES.results} job`);
      validateRunId(r.runId);
      if (r.imageId === '') throw new Error('Malformed results job payload: imageId is empty');
    } catch (err) {
      throw new UnrecoverableError((err as Error).message);
    }
    known.add(r.runId);
    const input = await toCountInput(job, r);
    const counted = await countResult(redis, runKeys(prefix, r.runId), input);
    if (counted) stats.counted++;
    else stats.repeats++;
    log.debug({ runId: r.runId, imageId: r.imageId, status: input.status, counted }, 'result');
    await opts.afterCount?.(r, counted, job.id);
    await checkRunSafely(r.runId);
    return { counted };
  }

  const worker = new Worker(QUEUES.results, processJob, {
    connection: workerConnection,
    prefix,
    name: `aggregator-${os.hostname()}-${process.pid}`,
    concurrency: opts.concurrency ?? 16,
    lockDuration: opts.lockDurationMs ?? config.JOB_LOCK_MS,
    stalledInterval: opts.stalledIntervalMs ?? config.STALLED_INTERVAL_MS,
    maxStalledCount: opts.maxStalledCount ?? 10,
    ...JOB_RETENTION.results,
  });
  worker.on('error', (err) => log.error({ err: err.message }, 'results worker error'));
  worker.on('failed', (job, err) =>
    log.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: err.message }, 'result job failed'),
  );

  let sweeps = 0;
  let sweeping: Promise<void> | null = null;
  async function sweepOnce(full: boolean): Promise<void> {
    if (full) {
      let cursor = '0';
      const match = `${prefix}:run:*:meta`;
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) known.add(key.slice(`${prefix}:run:`.length, -':meta'.length));
      } while (cursor !== '0');
    }
    const runs = [...known];
    if (runs.length === 0) return;
    const pipe = redis.pipeline();
    for (const runId of runs) {
      const k = runKeys(prefix, runId);
      pipe.hgetall(k.meta).scard(k.done).scard(k.failed);
    }
    const res = (await pipe.exec()) ?? [];
    for (let i = 0; i < runs.length; i++) {
      const runId = runs[i];
      const meta = (res[3 * i]?.[1] ?? {}) as RunMeta;
      const done = Number(res[3 * i + 1]?.[1] ?? 0);
      const failed = Number(res[3 * i + 2]?.[1] ?? 0);
      if (lastDone.get(runId) !== done && meta.status !== 'complete') {
        log.info(
          { runId, done, failed, total: Number(meta.total ?? Number.NaN) },
          `run ${runId}: ${done}/${meta.total ?? '?'} counted`,
        );
      }
      lastDone.set(runId, done);
      if (needsReport(meta, done)) await checkRunSafely(runId);
      else if (meta.status === 'complete' || meta.total === undefined) {
        // Reported (or not a run yet): forget it until one of its results arrives again.
        known.delete(runId);
        lastDone.delete(runId);
      }
    }
  }

  function sweep(o: { full?: boolean } = {}): Promise<void> {
    const full = o.full ?? sweeps % (opts.fullScanEvery ?? 12) === 0;
    sweeps++;
    const run = (sweeping ?? Promise.resolve()).then(() =>
      sweepOnce(full).catch((err) => log.error({ err: (err as Error).message }, 'sweep failed')),
    );
    sweeping = run;
    return run;
  }

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const interval = opts.sweepIntervalMs ?? 5_000;
  const schedule = () => {
    if (closed || interval <= 0) return;
    timer = setTimeout(() => {
      void sweep().finally(schedule);
    }, interval);
    timer.unref();
  };

  try {
    await worker.waitUntilReady();
    await redis.ping();
  } catch (err) {
    await worker.close(true).catch(() => {});
    redis.disconnect();
    workerConnection.disconnect();
    throw err;
  }
  // A run whose counts completed while no aggregator was writing (a crash between counting and
  // writing) gets its report now.
  await sweep({ full: true });
  schedule();
  log.info(
    { prefix, queue: QUEUES.results, store: store.uri, concurrency: opts.concurrency ?? 16 },
    'aggregator started',
  );

  return {
    stats,
    sweep,
    async close(o: { force?: boolean } = {}) {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      if (o.force) {
        const closing = worker.close(true).catch(() => {});
        redis.disconnect();
        workerConnection.disconnect();
        await closing;
      } else {
        await worker.close();
        await sweeping;
        await redis.quit().catch(() => redis.disconnect());
        await workerConnection.quit().catch(() => workerConnection.disconnect());
      }
      if (ownStore) await store.close();
      log.info({ ...stats }, 'aggregator closed');
    },
  };
}
