import { createHash } from 'node:crypto';
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
  getRunProgress,
  heatmapJobFor,
  heatmapJobId,
  initRun,
  QUEUES,
  type RunConfig,
  type RunProgress,
  runBase,
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

/**
 * The scripting API (used by the CLI itself): build proxies, submit runs, follow them, read reports.
 * Jobs carry ids, URIs and storage keys only.
 */
export class EmbedcamClient {
  readonly redis: Redis;
  readonly store: ObjectStore;
  private readonly heatmaps: Queue;
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
    this.proxies = new Queue(QUEUES.proxies, opts);
    this.flows = new FlowProducer(opts);
    // Every connection has an error listener; an outage is logged once, and its end.
    this.watch = watchConnection(this.redis, createLogger('client', config.LOG_LEVEL), 'client');
    for (const q of [this.heatmaps, this.proxies, this.flows]) this.watch.add(q);
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

  /** Submits a run: proxies first (built if missing), then one heatmap job per image without a result. */
  async submitRun(o: SubmitRunOptions): Promise<SubmitResult> {
    const { ref: modelRef, spec } = await resolveModel(o.model, o.engine);
    const fingerprint = await modelFingerprint(spec);
    const split = o.split ?? 'test';
    const proxyId =
      o.proxyId ??
      (await this.buildProxies({
        dataset: o.dataset,
        split: o.refSplit ?? 'train',
        classes: o.classes,
        model: o.model,
        engine: o.engine,
        scheme: o.proxies ?? 'mean',
        onProgress: o.onProxyProgress,
      }));
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
    const existing = await this.store.getOrNull(storageKeys.runConfig(runId));
    if (!existing) {
      // A run unknown to the store starts afresh, even if Redis remembers it (the store was wiped
      // or changed): its counted images would otherwise point at results that no longer exist.
      await deleteKeysWithPrefix(this.redis, runBase(this.config.EMBEDCAM_PREFIX, runId));
      await this.store.put(storageKeys.runConfig(runId), JSON.stringify(run, null, 2));
    }
    await initRun(this.redis, this.config.EMBEDCAM_PREFIX, runId, items.length);

    const done = await doneImageIds(this.redis, this.config.EMBEDCAM_PREFIX, runId);
    const missing = items.filter((it) => !done.has(it.id));
    const opts = submittedJobOptions(this.config.JOB_ATTEMPTS);
    for (let i = 0; i < missing.length; i += CHUNK) {
      await this.heatmaps.addBulk(
        missing.slice(i, i + CHUNK).map((it) => {
          const data = heatmapJobFor(runId, it);
          return { name: 'heatmap', data, opts: { ...opts, jobId: heatmapJobId(runId, it.id) } };
        }),
      );
    }
    return {
      runId,
      proxyId,
      total: items.length,
      enqueued: missing.length,
      alreadyDone: items.length - missing.length,
    };
  }

  status(runId: string): Promise<RunProgress> {
    return getRunProgress(this.redis, this.config.EMBEDCAM_PREFIX, validateRunId(runId));
  }

  /** Polls until the report is written; `onProgress` sees every change of the done count. */
  async waitForRun(
    runId: string,
    o: { onProgress?: (p: RunProgress) => void; pollMs?: number; timeoutMs?: number } = {},
  ): Promise<RunSummary> {
    const deadline = Date.now() + (o.timeoutMs ?? 24 * 3600_000);
    let last = -1;
    while (Date.now() < deadline) {
      const p = await this.status(runId);
      if (p.status === 'unknown')
        throw new Error(`Run ${runId} is unknown to this Redis (prefix ${this.config.EMBEDCAM_PREFIX}).`);
      if (p.done !== last || p.status === 'complete') {
        last = p.done;
        o.onProgress?.(p);
      }
      if (p.status === 'complete') return this.getReport(runId);
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
    const results = new Queue(QUEUES.results, {
      connection: this.redis,
      prefix: this.config.EMBEDCAM_PREFIX,
    });
    this.watch.add(results);
    try {
      const [h, p, r] = await Promise.all([
        this.heatmaps.getWorkersCount(),
        this.proxies.getWorkersCount(),
        results.getWorkersCount(),
      ]);
      return { heatmaps: h, proxies: p, results: r };
    } finally {
      await results.close();
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.heatmaps.close(), this.proxies.close(), this.flows.close()]);
    await this.store.close();
    this.redis.disconnect();
  }
}
