import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { modelFingerprint, resolveModel } from '@embedcam/cam';
import type { Config } from '@embedcam/config';
import { openDataset, selectItems } from '@embedcam/datasets';
import type { RunSummary } from '@embedcam/explain';
import {
  advertisedStore,
  type ConnectionWatch,
  createLogger,
  createRedis,
  deleteKeysWithPrefix,
  doneImageIds,
  forgetFailedImages,
  getRunProgress,
  initRun,
  QUEUES,
  type RunConfig,
  type RunProgress,
  readRunConfig,
  runBase,
  StoreMismatchError,
  storageKeys,
  validateRunId,
  watchConnection,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BuildProxiesOptions, SubmitResult, SubmitRunOptions } from './client-options.js';
import { announceStored, enqueueHeatmaps } from './enqueue.js';
import { addProxyFlow, planProxyBuild, waitForProxies } from './proxy-flow.js';
import {
  progressWithin,
  RunStalledError,
  type RunWatchDeps,
  type StallWatch,
  withStall,
} from './run-watch.js';
import { deleteObjects, listKeys, newAttempt, storedFailures, storedResults } from './stored-results.js';

export { newAttempt, RunStalledError };

const CHUNK = 500;

/** The proxy build a run submission asks for when it names no proxy set. */
function proxyBuildOf(o: SubmitRunOptions): BuildProxiesOptions {
  return {
    dataset: o.dataset,
    split: o.refSplit ?? 'train',
    classes: o.classes,
    model: o.model,
    engine: o.engine,
    scheme: o.proxies ?? 'mean',
    onProgress: o.onProxyProgress,
  };
}

/**
 * The scripting API (used by the CLI itself): build proxies, submit runs, follow them, read reports.
 * Jobs carry ids, URIs and storage keys only.
 */
export class EmbedcamClient {
  readonly redis: Redis;
  readonly store: ObjectStore;
  /** The deployment's queue and key prefix (EMBEDCAM_PREFIX). */
  readonly prefix: string;
  private readonly heatmaps: Queue;
  private readonly results: Queue;
  private readonly proxies: Queue;
  private readonly flows: FlowProducer;
  private readonly watch: ConnectionWatch;

  constructor(
    private readonly config: Config & { REDIS_URL: string },
    store?: ObjectStore,
  ) {
    this.prefix = config.EMBEDCAM_PREFIX;
    this.redis = createRedis(config.REDIS_URL);
    this.store = store ?? openStore(config.STORAGE_URI);
    const opts = { connection: this.redis, prefix: config.EMBEDCAM_PREFIX };
    this.heatmaps = new Queue(QUEUES.heatmaps, opts);
    this.results = new Queue(QUEUES.results, opts);
    this.proxies = new Queue(QUEUES.proxies, opts);
    this.flows = new FlowProducer(opts);
    // Every connection has an error listener; an outage is logged once, and its end.
    this.watch = watchConnection(this.redis, createLogger('client', config.LOG_LEVEL), 'client');
    for (const q of [this.heatmaps, this.results, this.proxies, this.flows]) this.watch.add(q);
  }

  /**
   * Builds (or finds) a proxy set through the proxy-builder: a flow whose children embed shards
   * of the reference images and whose parent reduces them. Resolves with the proxy id.
   */
  async buildProxies(o: BuildProxiesOptions): Promise<string> {
    await this.assertSameStore();
    const plan = await planProxyBuild(o, this.config.PROXY_SHARD_SIZE);
    if (!o.force && (await this.store.exists(storageKeys.proxiesMeta(plan.proxyId)))) return plan.proxyId;
    const reduceJobId = await addProxyFlow(this.store, this.flows, plan, this.config.JOB_ATTEMPTS);
    await waitForProxies(this.store, this.proxies, plan, reduceJobId, o);
    return plan.proxyId;
  }

  /** Whether the proxy set a submission would use is already in the store (no proxy-builder needed). */
  async hasProxiesFor(o: SubmitRunOptions): Promise<boolean> {
    const proxyId =
      o.proxyId ?? (await planProxyBuild(proxyBuildOf(o), this.config.PROXY_SHARD_SIZE)).proxyId;
    return this.store.exists(storageKeys.proxiesMeta(proxyId));
  }

  /** Submits a run: proxies first (built if missing), then one heatmap job per image without a result. */
  async submitRun(o: SubmitRunOptions): Promise<SubmitResult> {
    await this.assertSameStore();
    const { ref: modelRef, spec } = await resolveModel(o.model, o.engine);
    const fingerprint = await modelFingerprint(spec);
    const split = o.split ?? 'test';
    const proxyId = o.proxyId ?? (await this.buildProxies(proxyBuildOf(o)));
    if (!(await this.store.exists(storageKeys.proxiesMeta(proxyId)))) {
      throw new Error(
        `Proxy set ${proxyId} is not in ${this.store.uri}; build it with "embedcam proxies build".`,
      );
    }
    const ds = await openDataset(o.dataset);
    const items = selectItems(ds, { split, classes: o.classes, limit: o.limit, perClass: o.perClass });
    const options = {
      target: o.target ?? 'gt',
      resolution: o.resolution ?? 'eval224',
      overlays: o.overlays ?? true,
      tau: o.tau ?? 0.2,
    } as const;
    const runId = validateRunId(
      o.runId ??
        `run-${createHash('sha256')
          .update(JSON.stringify([proxyId, ds.source, split, o.classes, o.limit, o.perClass, options]))
          .digest('hex')
          .slice(0, 12)}`,
    );
    const run: RunConfig = {
      runId,
      createdAt: new Date().toISOString(),
      model: modelRef,
      engine: o.engine,
      modelName: spec.name,
      modelFingerprint: fingerprint,
      proxyId,
      ...options,
      total: items.length,
      dataset: { name: ds.name, source: ds.source, split, classes: o.classes },
    };
    const prefix = this.config.EMBEDCAM_PREFIX;
    const prior = await readRunConfig(this.store, runId);
    if (!prior.ok && prior.problem === 'invalid')
      throw new Error(`${prior.message}; delete it to start run ${runId} afresh.`);
    let attempt: string | undefined;
    let stored: Map<string, string>;
    if (!prior.ok) {
      // A run unknown to the store starts afresh with a new attempt, even if Redis remembers it (the
      // store was wiped or another store is used): its counted images would point at results that
      // are not there, and its jobs' ids, kept by BullMQ for a while, would swallow the new jobs.
      attempt = newAttempt();
      await deleteKeysWithPrefix(this.redis, runBase(prefix, runId));
      await deleteObjects(this.store, await listKeys(this.store, storageKeys.results(runId)));
      await this.store.put(storageKeys.runConfig(runId), JSON.stringify({ ...run, attempt }, null, 2));
      stored = new Map();
    } else {
      attempt = prior.config.attempt;
      stored = await storedResults(this.store, runId, items);
    }
    await initRun(this.redis, prefix, runId, items.length, attempt);

    let retried = 0;
    const previous = attempt;
    const retry = new Set<string>();
    if (o.retryFailed && prior.ok && stored.size > 0) {
      const failed = await storedFailures(this.store, stored);
      if (failed.length > 0) {
        // The retried images get jobs of a new attempt: the failed jobs of the old one are still
        // kept by BullMQ (a week), and their result jobs (a day), under the old ids.
        attempt = newAttempt();
        await this.store.put(
          storageKeys.runConfig(runId),
          JSON.stringify({ ...prior.config, attempt }, null, 2),
        );
        await initRun(this.redis, prefix, runId, items.length, attempt);
        for (let i = 0; i < failed.length; i += CHUNK)
          await forgetFailedImages(this.redis, prefix, runId, failed.slice(i, i + CHUNK));
        await deleteObjects(
          this.store,
          failed.map((id) => stored.get(id)!),
        );
        for (const id of failed) {
          stored.delete(id);
          retry.add(id);
        }
        retried = failed.length;
      }
    }

    // The store decides what is done; Redis only what is counted. A stored result that Redis does
    // not count (Redis lost the run) is announced again instead of being recomputed.
    const counted = await doneImageIds(this.redis, prefix, runId);
    const recount = items.filter((it) => stored.has(it.id) && !counted.has(it.id));
    const missing = items.filter((it) => !stored.has(it.id));
    // Only the retried images get the new attempt; the others keep theirs, so a job still in
    // flight under it is not computed a second time.
    const again = missing.filter((it) => retry.has(it.id));
    const rest = missing.filter((it) => !retry.has(it.id));
    await enqueueHeatmaps(this.heatmaps, runId, again, attempt, this.config.JOB_ATTEMPTS);
    await enqueueHeatmaps(this.heatmaps, runId, rest, previous, this.config.JOB_ATTEMPTS);
    await announceStored(this.results, runId, recount, stored, attempt, this.config.JOB_ATTEMPTS);
    return {
      runId,
      proxyId,
      total: items.length,
      enqueued: missing.length,
      alreadyDone: items.length - missing.length,
      recounted: recount.length,
      retried,
      ...(attempt === undefined ? {} : { attempt }),
    };
  }

  /**
   * The run's progress. A running run that nothing will move on is reported `stalled`, with
   * `stalledReason` (see stallReason in @embedcam/queues and the RUN_* settings): no worker or
   * aggregator connected, none of its jobs in flight, or nothing counted for RUN_STALL_TIMEOUT_MS.
   */
  async status(runId: string): Promise<RunProgress> {
    const p = await getRunProgress(this.redis, this.config.EMBEDCAM_PREFIX, validateRunId(runId));
    return withStall(this.watchDeps(), p);
  }

  /**
   * Polls until the report is written; `onProgress` sees every change of the done count. Rejects
   * with {@link RunStalledError} as soon as the run is stalled (checked every `stallCheckMs`,
   * default 1 s), so a run nothing processes ends the wait; `timeoutMs` (default 24 h) bounds it anyway.
   */
  async waitForRun(
    runId: string,
    o: {
      onProgress?: (p: RunProgress) => void;
      pollMs?: number;
      timeoutMs?: number;
      stallCheckMs?: number;
    } = {},
  ): Promise<RunSummary> {
    await this.assertSameStore();
    const deadline = Date.now() + (o.timeoutMs ?? 24 * 3600_000);
    const watch: StallWatch = { noWorkerSince: {} };
    let last = -1;
    let nextStallCheck = 0;
    while (Date.now() < deadline) {
      const p = await progressWithin(this.watchDeps(), runId);
      if (p.status === 'unknown')
        throw new Error(`Run ${runId} is unknown to this Redis (prefix ${this.config.EMBEDCAM_PREFIX}).`);
      if (p.done !== last || p.status === 'complete') {
        last = p.done;
        o.onProgress?.(p);
      }
      if (p.status === 'complete') return this.getReport(runId);
      if (Date.now() >= nextStallCheck) {
        nextStallCheck = Date.now() + (o.stallCheckMs ?? 1000);
        const s = await withStall(this.watchDeps(), p, watch);
        if (s.status === 'stalled') {
          o.onProgress?.(s);
          throw new RunStalledError(runId, s.stalledReason ?? 'unknown reason');
        }
      }
      await sleep(o.pollMs ?? 250);
    }
    throw new Error(`Run ${runId} did not complete in time: are workers and an aggregator running?`);
  }

  async getReport(runId: string): Promise<RunSummary> {
    const buf = await this.store.get(storageKeys.report(validateRunId(runId)));
    return JSON.parse(buf.toString('utf8')) as RunSummary;
  }

  /**
   * One store per deployment: the running services of this prefix advertise theirs in Redis, and a
   * client with another store stops with {@link StoreMismatchError} (naming both) instead of
   * submitting work that they would look for in the wrong place.
   */
  async assertSameStore(): Promise<void> {
    const theirs = await advertisedStore(this.redis, this.config.EMBEDCAM_PREFIX);
    if (theirs !== null && theirs !== this.store.uri)
      throw new StoreMismatchError(this.config.EMBEDCAM_PREFIX, theirs, this.store.uri, 'client');
  }

  private watchDeps(): RunWatchDeps {
    return { redis: this.redis, config: this.config, heatmaps: this.heatmaps, results: this.results };
  }

  /** Live workers per queue (BullMQ's CLIENT LIST view). */
  async liveWorkers(): Promise<{ heatmaps: number; proxies: number; results: number }> {
    const [h, p, r] = await Promise.all([
      this.heatmaps.getWorkersCount(),
      this.proxies.getWorkersCount(),
      this.results.getWorkersCount(),
    ]);
    return { heatmaps: h, proxies: p, results: r };
  }

  async close(): Promise<void> {
    await Promise.all([
      this.heatmaps.close(),
      this.results.close(),
      this.proxies.close(),
      this.flows.close(),
    ]);
    await this.store.close();
    this.redis.disconnect();
  }
}
