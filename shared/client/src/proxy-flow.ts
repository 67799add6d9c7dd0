// A proxy build as the client submits it: the reference items cut into shards in the store, a
// BullMQ flow (a reduce parent over one embed-shard child per shard), and the wait for its result.
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL_ONLY_SCHEMES, modelFingerprint, proxySetId, resolveModel } from '@embedcam/cam';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import { type ProxyRequest, QUEUES, storageKeys, submittedJobOptions } from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import type { FlowProducer, Queue } from 'bullmq';
import type { BuildProxiesOptions } from './client-options.js';

export interface ProxyBuildPlan {
  /** The id the set will have (it names the inputs, so an existing set is found by it). */
  proxyId: string;
  request: ProxyRequest;
  shards: DatasetItem[][];
}

/** Resolves the model and dataset of a build into its id, request and shards of `shardSize` items. */
export async function planProxyBuild(o: BuildProxiesOptions, shardSize: number): Promise<ProxyBuildPlan> {
  const { ref: modelRef, spec } = await resolveModel(o.model, o.engine);
  const fingerprint = await modelFingerprint(spec);
  const ds = await openDataset(o.dataset);
  // Label-only schemes use no images, so the split does not make them different sets.
  const split = LABEL_ONLY_SCHEMES.includes(o.scheme) ? undefined : o.split;
  const items = selectItems(ds, { split, classes: o.classes, limit: o.limit, perClass: o.perClass });
  const dataset = { name: ds.name, source: ds.source, split, classes: o.classes };
  const proxyId = proxySetId({ scheme: o.scheme, model: { name: spec.name, fingerprint }, dataset });
  const shards: DatasetItem[][] = [];
  for (let i = 0; i < items.length; i += shardSize) shards.push(items.slice(i, i + shardSize));
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
  return { proxyId, request, shards };
}

/** Writes the shards and the request to the store, then adds the flow. Returns the reduce job's id. */
export async function addProxyFlow(
  store: ObjectStore,
  flows: FlowProducer,
  { proxyId, request, shards }: ProxyBuildPlan,
  attempts: number,
): Promise<string> {
  await Promise.all(
    shards.map((s, i) =>
      store.put(storageKeys.proxyShard(proxyId, i), `${s.map((it) => JSON.stringify(it)).join('\n')}\n`),
    ),
  );
  await store.put(storageKeys.proxyRequest(proxyId), JSON.stringify(request));
  // A fresh build id per attempt: BullMQ ignores adding an existing job id, and a forced rebuild must run.
  const build = `${proxyId}-${Date.now().toString(36)}`;
  const opts = submittedJobOptions(attempts);
  await flows.add({
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
  return `${build}-reduce`;
}

/** Polls until the set is in the store (reporting shards done), or its reduce job failed. */
export async function waitForProxies(
  store: ObjectStore,
  proxies: Queue,
  { proxyId, shards: { length: shards } }: ProxyBuildPlan,
  reduceJobId: string,
  o: Pick<BuildProxiesOptions, 'onProgress' | 'timeoutMs'>,
): Promise<void> {
  const deadline = Date.now() + (o.timeoutMs ?? 6 * 3600_000);
  let lastDone = -1;
  while (Date.now() < deadline) {
    if (await store.exists(storageKeys.proxiesMeta(proxyId))) {
      o.onProgress?.({ shardsDone: shards, shards });
      return;
    }
    const job = await proxies.getJob(reduceJobId);
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
