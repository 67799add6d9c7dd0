import { createHash } from 'node:crypto';
import {
  LABEL_ONLY_SCHEMES,
  modelFingerprint,
  type ProxyScheme,
  proxySetId,
  resolveModel,
} from '@embedcam/cam';
import type { Config } from '@embedcam/config';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import type { RunSummary } from '@embedcam/explain';
import {
  createRedis,
  deleteKeysWithPrefix,
  doneImageIds,
  getRunProgress,
  heatmapJobFor,
  heatmapJobId,
  initRun,
  type ProxyRequest,
  QUEUES,
  type RunConfig,
  type RunProgress,
  storageKeys,
  submittedJobOptions,
  validateRunId,
} from '@embedcam/queues';
import { type ObjectStore, openStore } from '@embedcam/storage';
import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface DatasetSelection {
  /** CUB directory or JSONL manifest (read by the client; image URIs must be readable by workers). */
  dataset: string;
  split?: string;
  classes?: string;
  limit?: number;
  perClass?: number;
}

export interface BuildProxiesOptions extends DatasetSelection {
  model?: string;
  engine?: 'tfjs' | 'onnx';
  scheme: ProxyScheme;
  /** Rebuild even if the proxy set exists in storage. */
  force?: boolean;
  onProgress?: (p: { shardsDone: number; shards: number }) => void;
  timeoutMs?: number;
}

export interface SubmitRunOptions extends DatasetSelection {
  runId?: string;
  model?: string;
  engine?: 'tfjs' | 'onnx';
  /** A proxy scheme (built from `refSplit` of the same dataset and classes) or an existing proxy id. */
  proxies?: ProxyScheme;
  proxyId?: string;
  refSplit?: string;
  target?: 'gt' | 'predicted' | number;
  resolution?: 'eval224' | 'original';
  overlays?: boolean;
  tau?: number;
  onProxyProgress?: BuildProxiesOptions['onProgress'];
}

export interface SubmitResult {
  runId: string;
  proxyId: string;
  total: number;
  /** Jobs added now (0 when re-submitting a finished run). */
  enqueued: number;
  alreadyDone: number;
}

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
  }

  /**
   * Builds (or finds) a proxy set through the proxy-builder: a flow whose children embed shards
   * of the reference images and whose parent reduces them. Resolves with the proxy id.
   */
  async buildProxies(o: BuildProxiesOptions): Promise<string> {
    const { ref: modelRef, spec } = await resolveModel(o.model, o.engine);
    const fingerprint = await modelFingerprint(spec);
    const ds = await openDataset(o.dataset);
    const items = selectItems(ds, {
      split: LABEL_ONLY_SCHEMES.includes(o.scheme) ? undefined : o.split,
      classes: o.classes,
      limit: o.limit,
      perClass: o.perClass,
    });
    const dataset = {
      name: ds.name,
      source: ds.source,
      split: LABEL_ONLY_SCHEMES.includes(o.scheme) ? undefined : o.split,
      classes: o.classes,
    };
    const proxyId = proxySetId({ scheme: o.scheme, model: { name: spec.name, fingerprint }, dataset });
    if (!o.force && (await this.store.exists(storageKeys.proxiesMeta(proxyId)))) return proxyId;

    const size = this.config.PROXY_SHARD_SIZE;
    const shards: DatasetItem[][] = [];
    for (let i = 0; i < items.length; i += size) shards.push(items.slice(i, i + size));
    const request: ProxyRequest = {
      proxyId,
      scheme: o.scheme,
      model: modelRef,
      engine: o.engine,
      modelName: spec.name,
      modelFingerprint: fingerprint,
      dataset,
      classNames: Object.fromEntries([...ds.classes].map(([k, v]) => [String(k), v])),
      shards: shards.length,
    };
    await Promise.all(
      shards.map((s, i) =>
        this.store.put(
          storageKeys.proxyShard(proxyId, i),
          `${s.map((it) => JSON.stringify(it)).join('\n')}\n`,
        ),
      ),
    );
    await this.store.put(storageKeys.proxyRequest(proxyId), JSON.stringify(request));
    // A fresh build id per attempt: BullMQ ignores adding an existing job id, and a forced rebuild must run.
    const build = `${proxyId}-${Date.now().toString(36)}`;
    const opts = submittedJobOptions(this.config.JOB_ATTEMPTS);
    await this.flows.add({
      name: 'reduce',
      queueName: QUEUES.proxies,
      data: { proxyId },
      opts: { ...opts, jobId: `${build}-reduce` },
      children: shards.map((_, shard) => ({
        name: 'embed-shard',
        queueName: QUEUES.proxies,
        data: { proxyId, shard },
        opts: { ...opts, jobId: `${build}-shard-${shard}` },
      })),
    });
    await this.waitForProxies(proxyId, `${build}-reduce`, shards.length, o);
    return proxyId;
  }

  private async waitForProxies(
    proxyId: string,
    reduceJobId: string,
    shards: number,
    o: BuildProxiesOptions,
  ): Promise<void> {
    const deadline = Date.now() + (o.timeoutMs ?? 6 * 3600_000);
    let lastDone = -1;
    while (Date.now() < deadline) {
      if (await this.store.exists(storageKeys.proxiesMeta(proxyId))) {
        o.onProgress?.({ shardsDone: shards, shards });
        return;
      }
      const job = await this.proxies.getJob(reduceJobId);
      const state = job ? await job.getState() : 'unknown';
      if (state === 'failed') throw new Error(`Proxy build ${proxyId} failed: ${job?.failedReason}`);
      const deps = job ? await job.getDependenciesCount({ processed: true }) : { processed: 0 };
      const done = deps.processed ?? 0;
      if (done !== lastDone) {
        lastDone = done;
        o.onProgress?.({ shardsDone: done, shards });
      }
      await sleep(300);
    }
    throw new Error(
      `Proxy build ${proxyId} did not finish in time: is a proxy-builder running (embedcam proxy-builder)?`,
    );
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
      await deleteKeysWithPrefix(this.redis, `${this.config.EMBEDCAM_PREFIX}:run:${runId}`);
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
