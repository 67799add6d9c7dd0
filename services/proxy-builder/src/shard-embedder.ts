import { LABEL_ONLY_SCHEMES } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { toFailureRecord } from '@embedcam/explain';
import { type ProxyPartial, parsePayload, proxyShardJobSchema, storageKeys } from '@embedcam/queues';
import type { Job } from 'bullmq';
import { embedThroughPool } from './embed-through-pool.js';
import { type ProxyJobContext, poolFor, readProxyRequest } from './job-context.js';

/**
 * An embed-shard job: embeds the shard's reference images and writes the members' embeddings (a
 * "partial"). Label-only schemes need no images: their members carry no embedding.
 */
export async function embedShard(
  ctx: ProxyJobContext,
  job: Job,
): Promise<{ partial: string; members: number; failed: number }> {
  const { proxyId, shard } = parsePayload(proxyShardJobSchema, job.data, 'embed-shard job');
  const req = await readProxyRequest(ctx.store, proxyId);
  const items = (await ctx.store.get(storageKeys.proxyShard(proxyId, shard)))
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
    const pool = await poolFor(ctx, req);
    const { members, failed } = await embedThroughPool(pool, items, {
      read: (uri) => ctx.inputs.read(uri, req.dataset.source),
      // Progress is informative only: a failed update must not fail the shard.
      onProgress: (done, total) =>
        void job.updateProgress(Math.round((done / total) * 100)).catch(() => undefined),
    });
    partial = {
      shard,
      dim: members[0]?.embedding.length ?? 0,
      members: members.map((m) => ({ id: m.id, label: m.label, embedding: Array.from(m.embedding) })),
      failures: failed.map(toFailureRecord),
    };
  }
  const key = storageKeys.proxyPartial(proxyId, shard);
  await ctx.store.put(key, JSON.stringify(partial));
  ctx.log.info(
    { proxyId, shard, jobId: job.id, members: partial.members.length, failed: partial.failures.length },
    'shard embedded',
  );
  return { partial: key, members: partial.members.length, failed: partial.failures.length };
}
