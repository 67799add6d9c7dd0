import { buildProxySet, encodeProxySet, LABEL_ONLY_SCHEMES, type ProxyMember } from '@embedcam/cam';
import {
  type ProxyPartial,
  parsePayload,
  proxyPartialSchema,
  proxyReduceJobSchema,
  storageKeys,
} from '@embedcam/queues';
import { type Job, UnrecoverableError } from 'bullmq';
import { type ProxyJobContext, poolFor, readProxyRequest } from './job-context.js';

/**
 * The reduce job (the flow's parent): all partials, in shard order, into the proxy set. Partials
 * keep the embeddings rather than per-class sums because the Single Point Proxy needs every member,
 * and because summing in id order makes the sharded result bit-identical to the one-process build.
 */
export async function reduceProxies(
  ctx: ProxyJobContext,
  job: Job,
): Promise<{ proxyId: string; classes: number }> {
  const { proxyId } = parsePayload(proxyReduceJobSchema, job.data, 'reduce job');
  const { store } = ctx;
  const req = await readProxyRequest(store, proxyId);
  const members: ProxyMember[] = [];
  const failures: ProxyPartial['failures'] = [];
  for (let shard = 0; shard < req.shards; shard++) {
    const raw = JSON.parse((await store.get(storageKeys.proxyPartial(proxyId, shard))).toString('utf8'));
    const p = parsePayload(proxyPartialSchema, raw, `partial ${shard} of ${proxyId}`);
    for (const m of p.members)
      members.push({ id: m.id, label: m.label, embedding: Float32Array.from(m.embedding) });
    failures.push(...p.failures);
  }
  const labelOnly = LABEL_ONLY_SCHEMES.includes(req.scheme);
  if (!labelOnly && members.length === 0) {
    throw new UnrecoverableError(
      `Proxy set ${proxyId}: no reference image could be embedded (${failures.length} failed).`,
    );
  }
  // Label-only schemes only need the head's dimension, which the pool reports.
  const dim = labelOnly ? (await poolFor(ctx, req)).info.dim : undefined;
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
  await store.put(storageKeys.proxyFailures(proxyId), JSON.stringify(failures, null, 2));
  await store.put(storageKeys.proxiesData(proxyId), data);
  // Written last: its presence means the set is complete.
  await store.put(storageKeys.proxiesMeta(proxyId), meta, { contentType: 'application/json' });
  ctx.log.info(
    { proxyId, jobId: job.id, classes: set.size, members: members.length, failed: failures.length },
    'proxy set written',
  );
  return { proxyId, classes: set.size };
}
