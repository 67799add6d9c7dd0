import {
  buildProxySet,
  EmbeddingCam,
  encodeProxySet,
  LABEL_ONLY_SCHEMES,
  loadCamModel,
  type ProxyMember,
  resolveModelSpec,
} from '@embedcam/cam';
import type { Config } from '@embedcam/config';
import type { DatasetItem } from '@embedcam/datasets';
import { embedItems, toFailureRecord } from '@embedcam/explain';
import {
  createLogger,
  createRedis,
  type Logger,
  type ProxyPartial,
  type ProxyRequest,
  parsePayload,
  proxyPartialSchema,
  proxyReduceJobSchema,
  proxyRequestSchema,
  proxyShardJobSchema,
  QUEUES,
  storageKeys,
} from '@embedcam/queues';
import { type ObjectStore, openStore, readUri } from '@embedcam/storage';
import { type Job, UnrecoverableError, Worker } from 'bullmq';

export interface ProxyBuilderHandle {
  close(): Promise<void>;
}

/**
 * The proxy-builder: shard jobs embed their reference images and write the members' embeddings
 * (a "partial"); the flow's parent reduces all partials into the proxy set. Partials keep the
 * embeddings rather than per-class sums because the Single Point Proxy needs every member, and
 * because summing in id order makes the sharded result bit-identical to the one-process build.
 */
export async function startProxyBuilder(
  config: Config & { REDIS_URL: string },
  opts: { store?: ObjectStore; log?: Logger } = {},
): Promise<ProxyBuilderHandle> {
  const log = opts.log ?? createLogger('proxy-builder', config.LOG_LEVEL);
  const store = opts.store ?? openStore(config.STORAGE_URI);
  const connection = createRedis(config.REDIS_URL);
  const cams = new Map<string, Promise<EmbeddingCam>>();
  const camFor = (req: ProxyRequest) => {
    const key = `${req.model}|${req.engine ?? ''}`;
    let cam = cams.get(key);
    if (!cam) {
      cam = (async () => {
        const spec = await resolveModelSpec(req.model, req.engine ?? config.EMBEDCAM_ENGINE);
        const model = await loadCamModel(spec, {
          engine: req.engine ?? config.EMBEDCAM_ENGINE,
          tfBackend: config.EMBEDCAM_TF_BACKEND,
        });
        log.info({ model: spec.name, runtime: model.backbone.runtime }, 'model loaded');
        return new EmbeddingCam(model);
      })();
      cams.set(key, cam);
    }
    return cam;
  };

  const readRequest = async (proxyId: string): Promise<ProxyRequest> =>
    parsePayload(
      proxyRequestSchema,
      JSON.parse((await store.get(storageKeys.proxyRequest(proxyId))).toString('utf8')),
      'proxy request',
    );

  const embedShard = async (job: Job): Promise<{ partial: string; members: number; failed: number }> => {
    const { proxyId, shard } = parsePayload(proxyShardJobSchema, job.data, 'embed-shard job');
    const req = await readRequest(proxyId);
    const items = (await store.get(storageKeys.proxyShard(proxyId, shard)))
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as DatasetItem);
    let partial: ProxyPartial;
    if (LABEL_ONLY_SCHEMES.includes(req.scheme)) {
      partial = {
        shard,
        dim: 0,
        members: items.map((it) => ({ id: it.id, label: it.label, embedding: [] })),
        failures: [],
      };
    } else {
      const cam = await camFor(req);
      const { members, failed } = await embedItems(cam, items, {
        read: (uri) => readUri(uri),
        onProgress: (done, total) => void job.updateProgress(Math.round((done / total) * 100)),
      });
      partial = {
        shard,
        dim: members[0]?.embedding.length ?? 0,
        members: members.map((m) => ({ id: m.id, label: m.label, embedding: Array.from(m.embedding) })),
        failures: failed.map(toFailureRecord),
      };
    }
    const key = storageKeys.proxyPartial(proxyId, shard);
    await store.put(key, JSON.stringify(partial));
    log.info(
      { proxyId, shard, jobId: job.id, members: partial.members.length, failed: partial.failures.length },
      'shard embedded',
    );
    return { partial: key, members: partial.members.length, failed: partial.failures.length };
  };

  const reduce = async (job: Job): Promise<{ proxyId: string; classes: number }> => {
    const { proxyId } = parsePayload(proxyReduceJobSchema, job.data, 'reduce job');
    const req = await readRequest(proxyId);
    const members: ProxyMember[] = [];
    const failures: ProxyPartial['failures'] = [];
    for (let shard = 0; shard < req.shards; shard++) {
      const raw = JSON.parse((await store.get(storageKeys.proxyPartial(proxyId, shard))).toString('utf8'));
      const p = parsePayload(proxyPartialSchema, raw, `partial ${shard} of ${proxyId}`);
      for (const m of p.members)
        members.push({ id: m.id, label: m.label, embedding: Float32Array.from(m.embedding) });
      failures.push(...p.failures);
    }
    if (!LABEL_ONLY_SCHEMES.includes(req.scheme) && members.length === 0) {
      throw new UnrecoverableError(
        `Proxy set ${proxyId}: no reference image could be embedded (${failures.length} failed).`,
      );
    }
    const dim = LABEL_ONLY_SCHEMES.includes(req.scheme) ? (await camFor(req)).model.head.dim : undefined;
    const set = buildProxySet(members, {
      scheme: req.scheme,
      model: { name: req.modelName, fingerprint: req.modelFingerprint },
      dataset: req.dataset,
      classNames: new Map(Object.entries(req.classNames).map(([k, v]) => [Number(k), v])),
      dim,
    });
    if (set.meta.id !== proxyId)
      throw new UnrecoverableError(`Proxy id mismatch: request ${proxyId}, built ${set.meta.id}.`);
    const { data, meta } = encodeProxySet(set);
    await store.put(`proxies/${proxyId}/failures.json`, JSON.stringify(failures, null, 2));
    await store.put(storageKeys.proxiesData(proxyId), data);
    // Written last: its presence means the set is complete.
    await store.put(storageKeys.proxiesMeta(proxyId), meta, { contentType: 'application/json' });
    log.info(
      { proxyId, jobId: job.id, classes: set.size, members: members.length, failed: failures.length },
      'proxy set written',
    );
    return { proxyId, classes: set.size };
  };

  const worker = new Worker(
    QUEUES.proxies,
    async (job) => {
      try {
        if (job.name === 'embed-shard') return await embedShard(job);
        if (job.name === 'reduce') return await reduce(job);
        throw new UnrecoverableError(`Unknown proxies job "${job.name}".`);
      } catch (err) {
        if ((err as { permanent?: boolean }).permanent) throw new UnrecoverableError((err as Error).message);
        throw err;
      }
    },
    { connection, prefix: config.EMBEDCAM_PREFIX, concurrency: 1, lockDuration: 120_000 },
  );
  worker.on('failed', (job, err) => log.error({ jobId: job?.id, err: err.message }, 'proxies job failed'));
  await worker.waitUntilReady();
  log.info({ queue: QUEUES.proxies, prefix: config.EMBEDCAM_PREFIX }, 'proxy-builder ready');

  return {
    async close() {
      await worker.close();
      for (const cam of cams.values()) (await cam).model.dispose();
      connection.disconnect();
      if (!opts.store) await store.close();
    },
  };
}
