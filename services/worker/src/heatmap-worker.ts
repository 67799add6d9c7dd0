// The heatmap worker: a BullMQ consumer of QUEUES.heatmaps. Per job it reads the image (readUri)
// and submits the file to the dynamic batcher, which hands batches to compute threads (one model
// session each). A thread decodes and resizes the images (sharp + prepareForModel), computes
// EmbeddingCAM, the metrics, the heatmap PNG and the overlay. The main thread only does I/O and
// bookkeeping, so its event loop stays responsive and BullMQ keeps renewing job locks under full
// compute load. Results are written to deterministic keys and announced on QUEUES.results.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  type BatcherStats,
  type BatchOutcome,
  ComputeClosedError,
  ComputePool,
  ComputeThreadError,
  DynamicBatcher,
  type ExplainInput,
  type ExplainOk,
  type PoolEvent,
  type PoolStats,
} from '@embedcam/compute';
import type { Config } from '@embedcam/config';
import type { DatasetItem } from '@embedcam/datasets';
import { type ExplainedImage, toImageResult } from '@embedcam/explain';
import {
  createLogger,
  createRedis,
  type HeatmapJob,
  heatmapJobSchema,
  type Logger,
  parsePayload,
  QUEUES,
  type ResultJob,
  type RunConfig,
  resultJobId,
  resultJobOptions,
  storageKeys,
} from '@embedcam/queues';
import { type ObjectStore, openStore, readUri } from '@embedcam/storage';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { LoadCache, loadProxies, loadRunConfig, type StoredProxies } from './caches.js';
import { failureOf, isPermanentFailure, JobFailure } from './failures.js';

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

export interface WorkerStats {
  jobs: {
    active: number;
    /** Jobs finished with a result job (ok or failed). */
    completed: number;
    ok: number;
    failed: number;
    /** Attempts that failed transiently and were left to BullMQ to retry. */
    retried: number;
  };
  /** Completed jobs per second, from the first job's start to the last job's end. */
  imagesPerSecond: number;
  /** Event-loop delay since start beyond the 10 ms sampling interval (monitorEventLoopDelay). */
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
  /**
   * Mean time per ok image in each stage: reading the file; compute (waiting for a batch and a
   * thread, decode + resize, EmbeddingCAM, metrics, PNG and overlay encoding); writing the files.
   */
  stageMeanMs: { read: number; compute: number; write: number };
  batcher: BatcherStats;
  compute: Array<{ model: string; runtime: string } & PoolStats>;
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

interface WorkItem {
  pool: ComputePool;
  proxyId: string;
  target: RunConfig['target'];
  resolution: RunConfig['resolution'];
  overlays: boolean;
  input: ExplainInput;
}

class HandedBack extends Error {
  constructor() {
    super('The worker is shutting down; the job was handed back to the queue.');
    this.name = 'HandedBack';
  }
}

const ms = (ns: number) => Math.round(ns / 1e4) / 100;
/** monitorEventLoopDelay's sampling interval: its histogram includes it, so it is subtracted. */
const LAG_RESOLUTION_MS = 10;
const lagMs = (ns: number) => Math.max(0, ms(ns) - LAG_RESOLUTION_MS);

export async function startWorker(config: Config, opts: StartWorkerOptions = {}): Promise<HeatmapWorker> {
  const log = opts.log ?? createLogger('worker', config.LOG_LEVEL);
  const ownStore = !opts.store;
  const store = opts.store ?? openStore(config.STORAGE_URI);
  const redis = createRedis(config.REDIS_URL ?? 'redis://127.0.0.1:6379');
  redis.on('error', (err) => log.warn({ err: err.message }, 'Redis connection error'));
  const prefix = config.EMBEDCAM_PREFIX;
  const results = new Queue(QUEUES.results, { connection: redis, prefix });
  results.on('error', (err) => log.warn({ err: err.message }, 'results queue error'));

  const counters = { completed: 0, ok: 0, failed: 0, retried: 0 };
  const stage = { read: 0, compute: 0, write: 0 };
  let firstJobAt = 0;
  let lastDoneAt = 0;
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  const lagWindow = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  lag.enable();
  lagWindow.enable();

  // ---- compute: one pool per model (normally one), fed by one batcher -------------------------
  const poolModels = new Map<ComputePool, string>();
  const pools = new LoadCache<ComputePool>(
    async (modelKey) => {
      const [model, engine] = JSON.parse(modelKey) as [string, 'tfjs' | 'onnx' | null];
      const started = performance.now();
      try {
        const pool = await ComputePool.start({
          model,
          engine: engine ?? undefined,
          tfBackend: config.EMBEDCAM_TF_BACKEND,
          threads: config.COMPUTE_THREADS,
          crashOnItemId: opts.crashOnItemId,
          onEvent: (e: PoolEvent) => onPoolEvent(model, e),
        });
        poolModels.set(pool, model);
        log.info(
          {
            model: pool.info.name,
            runtime: pool.info.runtime,
            threads: pool.threads,
            fingerprint: pool.info.fingerprint,
            ms: Math.round(performance.now() - started),
          },
          `compute threads ready: ${pool.threads} × ${pool.info.runtime}`,
        );
        return pool;
      } catch (err) {
        const e = err as Error;
        const badModel = ['ModelSpecError', 'UnsupportedModelError'].includes(e.name);
        throw new JobFailure(
          badModel ? 'bad-model' : 'model-load',
          `Model ${model}: ${e.message}`,
          badModel,
          {
            cause: err,
          },
        );
      }
    },
    8,
    60_000,
  );

  function onPoolEvent(model: string, e: PoolEvent) {
    if (e.type === 'thread-exit')
      log.error({ model, thread: e.thread, code: e.code, lostBatch: e.lostBatch }, 'compute thread died');
    else if (e.type === 'thread-error')
      log.error({ model, thread: e.thread, err: e.error.message }, 'compute thread error');
    else if (e.type === 'restart-failed')
      log.error({ model, thread: e.thread, err: e.error.message, retryInMs: e.retryInMs }, 'restart failed');
    else log.info({ model, thread: e.thread }, 'compute thread restarted');
  }

  const batcher = new DynamicBatcher<WorkItem, ExplainOk>({
    maxSize: config.BATCH_MAX_SIZE,
    maxWaitMs: config.BATCH_MAX_WAIT_MS,
    // One batch computing and one ready per thread: the next batch forms while the others compute.
    maxInFlight: 2 * config.COMPUTE_THREADS,
    run: async (_key, items) => {
      try {
        return await runOnPool(items);
      } catch (err) {
        if (!(err instanceof ComputeThreadError) || items.length === 1) throw err;
        // A thread crash loses the whole batch. Run its images one by one so that an image that
        // crashes the runtime fails alone instead of taking its batch-mates down on every retry.
        log.warn(
          { size: items.length, err: err.message },
          'batch lost to a thread crash: retrying its images singly',
        );
        return Promise.all(
          items.map((w) =>
            runOnPool([w]).then(
              (o) => o[0],
              (e: Error) => ({ ok: false as const, error: e }),
            ),
          ),
        );
      }
    },
    onBatch: (b) => log.debug({ size: b.size, waitedMs: Math.round(b.waitedMs) }, 'batch'),
  });

  /** One batch on its pool; the thread gets copies of the files (kept here for a crash retry). */
  async function runOnPool(items: WorkItem[]): Promise<Array<BatchOutcome<ExplainOk>>> {
    const { pool, proxyId, target, resolution, overlays } = items[0];
    const outcomes = await pool.explain({
      proxyId,
      target,
      resolution,
      render: { heatmapPng: true, overlay: overlays },
      items: items.map((w) => ({ item: w.input.item, bytes: new Uint8Array(w.input.bytes!) })),
    });
    return outcomes.map((o) =>
      o.ok
        ? { ok: true as const, value: o }
        : { ok: false as const, error: new JobFailure(o.code, o.message, true) },
    );
  }

  const runs = new LoadCache<RunConfig>((runId) => loadRunConfig(store, runId), 1024);
  const proxySets = new LoadCache<StoredProxies>((proxyId) => loadProxies(store, proxyId), 16);

  // ---- one image ------------------------------------------------------------------------------
  async function explainImage(p: HeatmapJob, item: DatasetItem, aborted: () => boolean): Promise<string> {
    const run = await runs.get(p.runId);
    const modelKey = JSON.stringify([run.model, run.engine ?? config.EMBEDCAM_ENGINE ?? null]);
    const pool = await pools.get(modelKey);
    const proxies = await proxySets.get(run.proxyId);
    checkModel(run, proxies, pool);
    if (!pool.hasProxies(run.proxyId)) pool.setProxies(run.proxyId, proxies.data, proxies.meta);

    const t0 = performance.now();
    const bytes = await readUri(p.uri);
    const tRead = performance.now();
    // Decoding, resizing, the heatmap PNG and the overlay all happen on the compute thread too:
    // their synchronous JavaScript (resize, colour blend) would otherwise hold up this event loop.
    const groupKey = JSON.stringify([modelKey, run.proxyId, run.target, run.resolution, run.overlays]);
    const res = await batcher.submit(groupKey, {
      pool,
      proxyId: run.proxyId,
      target: run.target,
      resolution: run.resolution,
      overlays: run.overlays,
      input: { item, bytes },
    });
    const tComp = performance.now();
    if (aborted()) throw new HandedBack();

    const heatmapKey = storageKeys.heatmap(p.runId, p.imageId);
    const overlayKey = run.overlays ? storageKeys.overlay(p.runId, p.imageId) : undefined;
    await Promise.all([
      store.put(heatmapKey, res.png!, { contentType: 'image/png' }),
      overlayKey && store.put(overlayKey, res.overlay!, { contentType: 'image/jpeg' }),
    ]);
    const explained = {
      item,
      image: { original: res.original, width: 0, height: 0, pixels: new Uint8Array(0) },
      bytes: Buffer.alloc(0),
      targetLabel: res.targetLabel,
      score: res.score,
      nearestLabel: res.nearestLabel,
      raw: res.raw,
      evaluated: { heatmap: res.heatmap, metrics: res.metrics, allZero: res.allZero, box: res.box },
    } satisfies ExplainedImage;
    const resultKey = storageKeys.result(p.runId, p.imageId);
    const result = toImageResult(explained, { heatmap: heatmapKey, overlay: overlayKey });
    // Written last: its presence means the heatmap (and overlay) are there too.
    await store.put(resultKey, JSON.stringify(result), { contentType: 'application/json' });
    stage.read += tRead - t0;
    stage.compute += tComp - tRead;
    stage.write += performance.now() - tComp;
    return resultKey;
  }

  function checkModel(run: RunConfig, proxies: StoredProxies, pool: ComputePool): void {
    const fp = pool.info.fingerprint;
    const mismatch = (what: string, theirs: string) =>
      new JobFailure(
        'model-mismatch',
        `${what} was made with model fingerprint ${theirs}, but ${run.model} on this worker has ${fp} (${pool.info.name}); the weights differ — use the same model files everywhere or rebuild.`,
        true,
      );
    if (run.modelFingerprint && run.modelFingerprint !== fp)
      throw mismatch(`Run ${run.runId}`, run.modelFingerprint);
    const pfp = proxies.set.meta.model.fingerprint;
    if (pfp && pfp !== fp) throw mismatch(`Proxy set ${run.proxyId}`, pfp);
    if (proxies.set.meta.dim !== pool.info.dim)
      throw new JobFailure(
        'model-mismatch',
        `Proxy set ${run.proxyId} has dimension ${proxies.set.meta.dim}; ${pool.info.name} embeds in ${pool.info.dim}.`,
        true,
      );
  }

  async function publish(r: ResultJob): Promise<void> {
    await results.add('result', r, {
      jobId: resultJobId(r.runId, r.imageId),
      ...resultJobOptions(config.JOB_ATTEMPTS),
    });
  }

  // ---- the processor --------------------------------------------------------------------------
  const active = new Map<string, { job: Job; token?: string; abort: () => void; aborted: boolean }>();
  let handingBack = false;

  async function processJob(
    job: Job,
    token?: string,
  ): Promise<{ status: 'ok' | 'failed'; key?: string; code?: string }> {
    firstJobAt ||= performance.now();
    const entry = { job, token, abort: () => {}, aborted: false };
    const abortP = new Promise<never>((_, reject) => {
      entry.abort = () => {
        entry.aborted = true;
        reject(new HandedBack());
      };
    });
    abortP.catch(() => {});
    active.set(job.id!, entry);
    try {
      return await Promise.race([handle(job, () => entry.aborted), abortP]);
    } finally {
      active.delete(job.id!);
    }
  }

  async function handle(job: Job, aborted: () => boolean) {
    const d = (job.data ?? {}) as Partial<HeatmapJob>;
    let p: HeatmapJob;
    try {
      p = parsePayload(heatmapJobSchema, job.data, `heatmap job ${job.id}`);
    } catch (err) {
      const message = (err as Error).message;
      if (typeof d.runId === 'string' && typeof d.imageId === 'string') {
        await fail(d.runId, d.imageId, { code: 'bad-payload', message: message.slice(0, 2000) }, d);
      } else {
        counters.failed++;
        log.error({ jobId: job.id, err: message }, 'malformed heatmap job without runId/imageId: dropped');
      }
      return { status: 'failed' as const, code: 'bad-payload' };
    }
    const item: DatasetItem = {
      id: p.imageId,
      uri: p.uri,
      label: p.label,
      className: p.className,
      bbox: p.bbox,
      split: p.split,
    };
    const jlog = log.child({ runId: p.runId, imageId: p.imageId, jobId: job.id });
    try {
      const key = await explainImage(p, item, aborted);
      if (aborted()) throw new HandedBack();
      await publish({ runId: p.runId, imageId: p.imageId, status: 'ok', key, uri: p.uri, label: p.label });
      counters.ok++;
      counters.completed++;
      lastDoneAt = performance.now();
      return { status: 'ok' as const, key };
    } catch (err) {
      if (err instanceof HandedBack || (handingBack && err instanceof ComputeClosedError)) throw err;
      const f = failureOf(item, err);
      if (isPermanentFailure(err)) {
        jlog.warn({ code: f.code, err: f.message }, 'image failed');
        await fail(p.runId, p.imageId, f, p);
        return { status: 'failed' as const, code: f.code };
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        // The last attempt: report it so the run still completes, then let BullMQ record the failure.
        const code = err instanceof JobFailure ? err.code : 'error';
        jlog.error({ code, err: f.message, attempts }, 'image failed after its last attempt');
        await fail(p.runId, p.imageId, { code, message: f.message }, p);
      } else {
        counters.retried++;
        jlog.warn(
          { err: f.message, attempt: job.attemptsMade + 1, attempts },
          'transient failure: will retry',
        );
      }
      throw err;
    }
  }

  async function fail(
    runId: string,
    imageId: string,
    failure: { code: string; message: string },
    p: Partial<HeatmapJob>,
  ): Promise<void> {
    await publish({
      runId,
      imageId,
      status: 'failed',
      failure,
      uri: typeof p.uri === 'string' ? p.uri : undefined,
      label: Number.isInteger(p.label) ? p.label : undefined,
    });
    counters.failed++;
    counters.completed++;
    lastDoneAt = performance.now();
  }

  if (opts.preloadModel) {
    try {
      await pools.get(JSON.stringify([opts.preloadModel, config.EMBEDCAM_ENGINE ?? null]));
    } catch (err) {
      await results.close();
      await redis.quit().catch(() => redis.disconnect());
      if (ownStore) await store.close();
      lag.disable();
      lagWindow.disable();
      throw err;
    }
  }

  // ---- BullMQ ---------------------------------------------------------------------------------
  const worker = new Worker(QUEUES.heatmaps, processJob, {
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
  worker.on('error', (err) => log.error({ err: err.message }, 'worker error'));
  await worker.waitUntilReady();

  // A job whose workers died more than maxStalledCount times is failed by BullMQ's stall check,
  // which runs no code of ours: report it here so the run still completes. Every worker sees the
  // event; the deterministic result job id makes the reports collapse into one.
  const events = new QueueEvents(QUEUES.heatmaps, { connection: redis.duplicate(), prefix });
  const heatmapsQueue = new Queue(QUEUES.heatmaps, { connection: redis, prefix });
  events.on('failed', ({ jobId, failedReason }) => {
    if (!/stalled more than allowable limit/.test(failedReason)) return;
    void (async () => {
      const job = await heatmapsQueue.getJob(jobId);
      const p = (job?.data ?? {}) as Partial<HeatmapJob>;
      if (typeof p.runId !== 'string' || typeof p.imageId !== 'string') return;
      await publish({
        runId: p.runId,
        imageId: p.imageId,
        status: 'failed',
        failure: {
          code: 'stalled',
          message: `The workers processing this image died repeatedly (${failedReason}).`,
        },
        uri: p.uri,
        label: p.label,
      });
    })().catch((err) => log.error({ err: (err as Error).message, jobId }, 'could not report a stalled job'));
  });
  await events.waitUntilReady();

  const statsTimer = setInterval(() => {
    const s = stats();
    const windowP99 = lagMs(lagWindow.percentile(99));
    lagWindow.reset();
    const line = {
      completed: s.jobs.completed,
      ok: s.jobs.ok,
      failed: s.jobs.failed,
      active: s.jobs.active,
      imagesPerSecond: Math.round(s.imagesPerSecond * 10) / 10,
      eventLoopLagP99Ms: windowP99,
      meanBatchSize: Math.round(s.batcher.meanBatchSize * 10) / 10,
      queuedBatches: s.compute.reduce((n, c) => n + c.queued, 0),
    };
    if (s.jobs.active > 0) log.info(line, 'worker stats');
    else log.debug(line, 'worker stats');
  }, opts.statsIntervalMs ?? 10_000);
  statsTimer.unref();

  function stats(): WorkerStats {
    const ok = Math.max(1, counters.ok);
    const elapsed = firstJobAt && lastDoneAt > firstJobAt ? (lastDoneAt - firstJobAt) / 1000 : 0;
    const compute: WorkerStats['compute'] = [];
    for (const [pool, model] of poolModels)
      compute.push({ model, runtime: pool.info.runtime, ...pool.stats() });
    return {
      jobs: { active: active.size, ...counters },
      imagesPerSecond: elapsed > 0 ? counters.completed / elapsed : 0,
      eventLoopLagP99Ms: lagMs(lag.percentile(99)),
      eventLoopLagMaxMs: lagMs(lag.max),
      stageMeanMs: {
        read: stage.read / ok,
        compute: stage.compute / ok,
        write: stage.write / ok,
      },
      batcher: batcher.stats(),
      compute,
    };
  }

  async function handBack(): Promise<void> {
    handingBack = true;
    await Promise.all(
      [...active.values()].map(async (a) => {
        try {
          await a.job.moveToWait(a.token);
          log.info({ jobId: a.job.id }, 'handed back to the queue');
        } catch (err) {
          log.warn(
            { jobId: a.job.id, err: (err as Error).message },
            'could not hand back (its lock will expire)',
          );
        }
        a.abort();
      }),
    );
  }

  let closing: Promise<void> | null = null;
  let forceRequested: (() => void) | null = null;
  const forced = new Promise<void>((r) => {
    forceRequested = r;
  });

  async function shutdown(): Promise<void> {
    log.info({ active: active.size }, 'closing: finishing in-flight jobs');
    const graceful = worker.close();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => {
      timer = setTimeout(r, opts.shutdownTimeoutMs ?? config.WORKER_SHUTDOWN_TIMEOUT_MS);
    });
    const first = await Promise.race([
      graceful.then(() => 'done' as const),
      timeout.then(() => 'timeout' as const),
      forced.then(() => 'force' as const),
    ]);
    clearTimeout(timer);
    if (first !== 'done') {
      log.warn({ active: active.size, why: first }, 'handing in-flight jobs back to the queue');
      await handBack();
      await graceful;
    }
    await events.close();
    await heatmapsQueue.close();
    await batcher.close();
    const started = await Promise.allSettled(pools.values());
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
    await results.close();
    await redis.quit().catch(() => redis.disconnect());
    if (ownStore) await store.close();
    clearInterval(statsTimer);
    lag.disable();
    lagWindow.disable();
    log.info({ ...counters }, 'worker closed');
  }

  return {
    worker,
    stats,
    close(o = {}) {
      if (o.force) forceRequested?.();
      closing ??= shutdown();
      return closing;
    },
  };
}
