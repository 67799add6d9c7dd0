import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { modelFingerprint, resolveModel } from '@embedcam/cam';
import type { Config } from '@embedcam/config';
import { openDataset, selectItems } from '@embedcam/datasets';
import type { RunSummary } from '@embedcam/explain';
import {
  type ConnectionWatch,
  createLogger,
  createRedis,
  deleteKeysWithPrefix,
  doneImageIds,
  forgetFailedImages,
  getRunProgress,
  heatmapJobFor,
  heatmapJobId,
  initRun,
  parseStoredFailure,
  progressKey,
  QUEUES,
  type ResultJob,
  type RunConfig,
  type RunProgress,
  readRunConfig,
  resultJobId,
  resultJobOptions,
  runBase,
  runJobsInFlight,
  type StallSettings,
  stallReason,
  storageKeys,
  submittedJobOptions,
  validateRunId,
  watchConnection,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { BuildProxiesOptions, SubmitResult, SubmitRunOptions } from './client-options.js';
import { addProxyFlow, planProxyBuild, waitForProxies } from './proxy-flow.js';

const CHUNK = 500;
/** Store requests in flight at once while listing, reading or deleting a run's result objects. */
const STORE_CONCURRENCY = 16;

/**
 * A new attempt id: milliseconds since the epoch in base 36, then 16 random bits. A counter kept in
 * Redis (previous attempt + 1) would repeat whenever Redis forgot the run's meta while BullMQ still
 * holds that attempt's completed jobs (they expire by age, on other keys), and two stores sharing
 * one Redis cannot agree on a counter at all; a time-ordered random id never repeats, needs no
 * coordination, and still sorts in the order the attempts were made.
 */
export function newAttempt(now = Date.now()): string {
  return `${now.toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Runs `fn` over `xs`, `limit` at a time. */
async function eachLimited<T>(xs: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, xs.length) }, async () => {
    while (next < xs.length) await fn(xs[next++]);
  });
  await Promise.all(lanes);
}

/** `waitForRun` gave up: the run is stalled (see {@link EmbedcamClient.status}). */
export class RunStalledError extends Error {
  constructor(
    readonly runId: string,
    readonly reason: string,
  ) {
    super(`run ${runId} is stalled: ${reason}`);
    this.name = 'RunStalledError';
  }
}

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

/** What a watcher (waitForRun) has seen: since when a queue has had no worker. */
interface StallWatch {
  noWorkerSince: { heatmaps?: number; results?: number };
}

/**
 * The scripting API (used by the CLI itself): build proxies, submit runs, follow them, read reports.
 * Jobs carry ids, URIs and storage keys only.
 */
export class EmbedcamClient {
  readonly redis: Redis;
  readonly store: ObjectStore;
  private readonly heatmaps: Queue;
  private readonly results: Queue;
  private readonly proxies: Queue;
  private readonly flows: FlowProducer;
  private readonly watch: ConnectionWatch;

  constructor(
    private readonly config: Config & { REDIS_URL: string },
    store?: ObjectStore,
  ) {
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
      await this.deleteObjects(await this.listKeys(storageKeys.results(runId)));
      await this.store.put(storageKeys.runConfig(runId), JSON.stringify({ ...run, attempt }, null, 2));
      stored = new Map();
    } else {
      attempt = prior.config.attempt;
      stored = await this.storedResults(runId, items);
    }
    await initRun(this.redis, prefix, runId, items.length, attempt);

    let retried = 0;
    if (o.retryFailed && prior.ok && stored.size > 0) {
      const failed = await this.storedFailures(stored);
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
        await this.deleteObjects(failed.map((id) => stored.get(id)!));
        for (const id of failed) stored.delete(id);
        retried = failed.length;
      }
    }

    // The store decides what is done; Redis only what is counted. A stored result that Redis does
    // not count (Redis lost the run) is announced again instead of being recomputed.
    const counted = await doneImageIds(this.redis, prefix, runId);
    const recount = items.filter((it) => stored.has(it.id) && !counted.has(it.id));
    const missing = items.filter((it) => !stored.has(it.id));
    const opts = submittedJobOptions(this.config.JOB_ATTEMPTS);
    for (let i = 0; i < missing.length; i += CHUNK) {
      await this.heatmaps.addBulk(
        missing.slice(i, i + CHUNK).map((it) => {
          const data = heatmapJobFor(runId, it, attempt);
          return { name: 'heatmap', data, opts: { ...opts, jobId: heatmapJobId(runId, it.id, attempt) } };
        }),
      );
    }
    const nonce = newAttempt();
    const resultOpts = resultJobOptions(this.config.JOB_ATTEMPTS);
    for (let i = 0; i < recount.length; i += CHUNK) {
      await this.results.addBulk(
        recount.slice(i, i + CHUNK).map((it) => {
          const data: ResultJob = {
            runId,
            ...(attempt === undefined ? {} : { attempt }),
            imageId: it.id,
            status: 'ok',
            key: stored.get(it.id)!,
            uri: it.uri,
            label: it.label,
          };
          return {
            name: 'result',
            data,
            opts: { ...resultOpts, jobId: resultJobId(runId, it.id, attempt, nonce) },
          };
        }),
      );
    }
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

  /** Every key under a prefix of the store. */
  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const k of this.store.list(prefix)) keys.push(k);
    return keys;
  }

  private deleteObjects(keys: readonly string[]): Promise<void> {
    return eachLimited(keys, STORE_CONCURRENCY, (k) => this.store.delete(k));
  }

  /** The selected images whose result (ok or failure) is in the store: imageId → key. */
  private async storedResults(runId: string, items: readonly { id: string }[]): Promise<Map<string, string>> {
    const byKey = new Map(items.map((it) => [storageKeys.result(runId, it.id), it.id]));
    const stored = new Map<string, string>();
    for (const key of await this.listKeys(storageKeys.results(runId))) {
      const id = byKey.get(key);
      if (id !== undefined) stored.set(id, key);
    }
    return stored;
  }

  /** The images whose stored result is a failure record. */
  private async storedFailures(stored: ReadonlyMap<string, string>): Promise<string[]> {
    const failed: string[] = [];
    await eachLimited([...stored], STORE_CONCURRENCY, async ([id, key]) => {
      const bytes = await this.store.getOrNull(key);
      if (bytes && parseStoredFailure(bytes)) failed.push(id);
    });
    return failed;
  }

  /**
   * The run's progress. A running run that nothing will move on is reported `stalled`, with
   * `stalledReason` (see stallReason in @embedcam/queues and the RUN_* settings): no worker or
   * aggregator connected, none of its jobs in flight, or nothing counted for RUN_STALL_TIMEOUT_MS.
   */
  async status(runId: string): Promise<RunProgress> {
    const p = await getRunProgress(this.redis, this.config.EMBEDCAM_PREFIX, validateRunId(runId));
    return this.withStall(p);
  }

  private async withStall(p: RunProgress, watch?: StallWatch): Promise<RunProgress> {
    if (p.status !== 'running') return p;
    const reason = await this.stallReason(p, watch);
    return reason ? { ...p, status: 'stalled', stalledReason: reason } : p;
  }

  private async stallReason(p: RunProgress, watch?: StallWatch): Promise<string | undefined> {
    const [heatmaps, results, deploymentAt] = await Promise.all([
      this.heatmaps.getWorkersCount(),
      this.results.getWorkersCount(),
      this.redis.get(progressKey(this.config.EMBEDCAM_PREFIX)),
    ]);
    const now = Date.now();
    if (watch) {
      const seen = { heatmaps, results };
      for (const q of ['heatmaps', 'results'] as const) {
        if (seen[q] > 0) delete watch.noWorkerSince[q];
        else watch.noWorkerSince[q] ??= now;
      }
    }
    const settings: StallSettings = {
      stallTimeoutMs: this.config.RUN_STALL_TIMEOUT_MS,
      noWorkerGraceMs: this.config.RUN_NO_WORKER_GRACE_MS,
      idleGraceMs: this.config.RUN_IDLE_GRACE_MS,
    };
    return stallReason(
      {
        now,
        total: p.total,
        done: p.done,
        progressAt: p.progressAt,
        deploymentProgressAt: deploymentAt === null ? undefined : Number(deploymentAt),
        workers: { heatmaps, results },
        noWorkerSince: watch?.noWorkerSince,
        inFlight: async () => {
          const r = await runJobsInFlight(
            this.redis,
            [this.heatmaps, this.results],
            this.config.EMBEDCAM_PREFIX,
            p.runId,
          );
          // Counted or completed meanwhile: not idle after all.
          return r.done === p.done && r.status === 'running' ? r.inFlight : undefined;
        },
      },
      settings,
    );
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
    const deadline = Date.now() + (o.timeoutMs ?? 24 * 3600_000);
    const watch: StallWatch = { noWorkerSince: {} };
    let last = -1;
    let nextStallCheck = 0;
    while (Date.now() < deadline) {
      const p = await getRunProgress(this.redis, this.config.EMBEDCAM_PREFIX, validateRunId(runId));
      if (p.status === 'unknown')
        throw new Error(`Run ${runId} is unknown to this Redis (prefix ${this.config.EMBEDCAM_PREFIX}).`);
      if (p.done !== last || p.status === 'complete') {
        last = p.done;
        o.onProgress?.(p);
      }
      if (p.status === 'complete') return this.getReport(runId);
      if (Date.now() >= nextStallCheck) {
        nextStallCheck = Date.now() + (o.stallCheckMs ?? 1000);
        const s = await this.withStall(p, watch);
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
