import {
  buildProxySet,
  type EmbeddingCam,
  LABEL_ONLY_SCHEMES,
  type ProxyMember,
  type ProxyScheme,
  type ProxySet,
} from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { type FailedItem, loadItems, packBatch, type ReadImage } from './image-batch.js';

export interface EmbedItemsOptions {
  batchSize?: number;
  read: ReadImage;
  onProgress?: (done: number, total: number) => void;
}

/** Embeds reference images in batches (loading the next batch while the current one computes). */
export async function embedItems(
  cam: EmbeddingCam,
  items: DatasetItem[],
  opts: EmbedItemsOptions,
): Promise<{ members: ProxyMember[]; failed: FailedItem[] }> {
  const spec = cam.model.spec;
  const batchSize = opts.batchSize ?? 16;
  const members: ProxyMember[] = [];
  const failed: FailedItem[] = [];
  const batches: DatasetItem[][] = [];
  for (let i = 0; i < items.length; i += batchSize) batches.push(items.slice(i, i + batchSize));
  let next = batches.length > 0 ? loadItems(batches[0], spec, opts.read) : null;
  let done = 0;
  for (let b = 0; b < batches.length; b++) {
    const { loaded, failed: bad } = await next!;
    next = b + 1 < batches.length ? loadItems(batches[b + 1], spec, opts.read) : null;
    failed.push(...bad);
    if (loaded.length > 0) {
      const input = packBatch(
        loaded.map((l) => l.image),
        spec,
        cam.model.backbone.inputLayout,
      );
      const y = await cam.embed(input, loaded.length);
      const dim = y.length / loaded.length;
      loaded.forEach((l, i) => {
        members.push({ label: l.item.label, id: l.item.id, embedding: y.slice(i * dim, (i + 1) * dim) });
      });
    }
    done += batches[b].length;
    opts.onProgress?.(done, items.length);
  }
  return { members, failed };
}

export interface BuildProxiesOptions extends EmbedItemsOptions {
  scheme: ProxyScheme;
  model: { name: string; fingerprint?: string };
  dataset: { name: string; source: string; split?: string; classes?: string };
  classNames?: Map<number, string>;
}

/** Proxies for a scheme from reference items (one-hot needs no images, only the labels). */
export async function buildProxiesFromItems(
  cam: EmbeddingCam,
  items: DatasetItem[],
  opts: BuildProxiesOptions,
): Promise<{ proxies: ProxySet; failed: FailedItem[] }> {
  const info = { scheme: opts.scheme, model: opts.model, dataset: opts.dataset, classNames: opts.classNames };
  if (LABEL_ONLY_SCHEMES.includes(opts.scheme)) {
    const members = items.map((it) => ({ label: it.label, id: it.id, embedding: new Float32Array(0) }));
    return { proxies: buildProxySet(members, { ...info, dim: cam.model.head.dim }), failed: [] };
  }
  const { members, failed } = await embedItems(cam, items, opts);
  return { proxies: buildProxySet(members, info), failed };
}
