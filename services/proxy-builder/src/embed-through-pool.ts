import type { ProxyMember } from '@embedcam/cam';
import type { ComputePool } from '@embedcam/compute';
import type { DatasetItem } from '@embedcam/datasets';
import { type FailedItem, type ReadImage, toFailure } from '@embedcam/explain';

export interface EmbedThroughPoolOptions {
  read: ReadImage;
  /** Images per batch. Default 16, as embedItems. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

type Embedded = { member: ProxyMember } | { failed: FailedItem };

/**
 * embedItems on a compute pool: this thread only reads the files; decoding, resizing and the forward
 * pass run on the pool's threads, so the event loop stays free (BullMQ keeps renewing the job's
 * lock). One batch per thread computes while one more is read. Members and failures come in item
 * order, as embedItems gives them, so the proxies built from them are the same bits.
 */
export async function embedThroughPool(
  pool: ComputePool,
  items: DatasetItem[],
  opts: EmbedThroughPoolOptions,
): Promise<{ members: ProxyMember[]; failed: FailedItem[] }> {
  const size = opts.batchSize ?? 16;
  const batches: DatasetItem[][] = [];
  for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
  const results: Embedded[][] = new Array(batches.length);
  let next = 0;
  let done = 0;
  let stopped = false;
  const lane = async () => {
    while (!stopped && next < batches.length) {
      const b = next++;
      try {
        results[b] = await embedBatch(pool, batches[b], opts.read);
      } catch (err) {
        stopped = true; // the job fails (and is retried) as a whole: start no more batches
        throw err;
      }
      done += batches[b].length;
      opts.onProgress?.(done, items.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(batches.length, pool.threads + 1) }, lane));
  const members: ProxyMember[] = [];
  const failed: FailedItem[] = [];
  for (const r of results.flat()) 'member' in r ? members.push(r.member) : failed.push(r.failed);
  return { members, failed };
}

/** One batch: files read here (a missing one fails alone), embedded on the pool. */
async function embedBatch(pool: ComputePool, items: DatasetItem[], read: ReadImage): Promise<Embedded[]> {
  const files = await Promise.all(
    items.map(async (item) => {
      try {
        return { item, bytes: await read(item.uri) };
      } catch (err) {
        return { item, failed: toFailure(item, err) };
      }
    }),
  );
  const inputs = files.filter((f) => f.bytes !== undefined) as Array<{ item: DatasetItem; bytes: Buffer }>;
  const outcomes = inputs.length > 0 ? await pool.embedItems(inputs) : [];
  const byItem = new Map(inputs.map((x, i) => [x.item, outcomes[i]]));
  return files.map(({ item, failed }): Embedded => {
    if (failed) return { failed };
    const o = byItem.get(item)!;
    if (!o.ok) return { failed: { item, code: o.code, message: o.message } };
    return { member: { label: item.label, id: item.id, embedding: o.embedding } };
  });
}
