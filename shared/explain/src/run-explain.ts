import type { EmbeddingCam, ProxyScheme, ProxySet } from '@embedcam/cam';
import { encodeProxySet } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { encodeHeatmapPng, renderExplainOverlay } from '@embedcam/images';
import { buildProxiesFromItems } from './build-proxies.js';
import type { EvalResolution } from './evaluate-map.js';
import { type CamTarget, type ExplainedImage, explainBatch } from './explain-batch.js';
import { loadItems, type ReadImage } from './image-batch.js';
import {
  type ImageResult,
  type RunSummary,
  RunSummaryBuilder,
  toFailureRecord,
  toImageResult,
} from './run-summary.js';

/** Where outputs go: a local directory here, an object store in the pipeline (same shape). */
export interface OutputSink {
  put(key: string, body: Buffer | string, opts?: { contentType?: string }): Promise<void>;
}

export type ExplainPhase = 'proxies' | 'heatmaps';

export interface ExplainRunOptions {
  cam: EmbeddingCam;
  /** Images to explain. */
  items: DatasetItem[];
  /** Reference images the proxies are built from (ignored when `proxies` is given). */
  referenceItems: DatasetItem[];
  scheme: ProxyScheme;
  proxies?: ProxySet;
  model: { name: string; fingerprint?: string };
  dataset: { name: string; source: string; split?: string; classes?: string };
  classNames?: Map<number, string>;
  out: OutputSink;
  read: ReadImage;
  batchSize?: number;
  target?: CamTarget;
  resolution?: EvalResolution;
  overlays?: boolean;
  tau?: number;
  run?: Record<string, unknown>;
  onProgress?: (phase: ExplainPhase, done: number, total: number, failed: number) => void;
}

export interface ExplainRunResult {
  summary: RunSummary;
  proxies: ProxySet;
}

/**
 * `embedcam explain` in one process: proxies from the reference split, then heatmaps, per-image
 * metrics and files, results.jsonl and summary.json. Bad images fail alone, with a reason.
 */
export async function runExplain(o: ExplainRunOptions): Promise<ExplainRunResult> {
  const batchSize = o.batchSize ?? 16;
  const builder = new RunSummaryBuilder();
  let proxies = o.proxies;
  if (!proxies) {
    const built = await buildProxiesFromItems(o.cam, o.referenceItems, {
      scheme: o.scheme,
      model: o.model,
      dataset: o.dataset,
      classNames: o.classNames,
      batchSize,
      read: o.read,
      onProgress: (d, t) => o.onProgress?.('proxies', d, t, 0),
    });
    proxies = built.proxies;
    // Reference failures don't stop the run, but are reported.
    for (const f of built.failed) builder.addFailure({ ...toFailureRecord(f), code: `reference-${f.code}` });
  }
  const { data, meta } = encodeProxySet(proxies);
  await o.out.put(`proxies/${proxies.meta.id}.bin`, data);
  await o.out.put(`proxies/${proxies.meta.id}.json`, meta, { contentType: 'application/json' });

  const lines: string[] = [];
  let done = 0;
  let failed = 0;
  const batches: DatasetItem[][] = [];
  for (let i = 0; i < o.items.length; i += batchSize) batches.push(o.items.slice(i, i + batchSize));
  let next = batches.length > 0 ? loadItems(batches[0], o.cam.model.spec, o.read) : null;
  for (let b = 0; b < batches.length; b++) {
    const loadedBatch = await next!;
    next = b + 1 < batches.length ? loadItems(batches[b + 1], o.cam.model.spec, o.read) : null;
    const { explained, failed: bad } = await explainBatch(o.cam, loadedBatch.loaded, proxies, {
      target: o.target,
      resolution: o.resolution,
    });
    for (const f of [...loadedBatch.failed, ...bad]) {
      const rec = toFailureRecord(f);
      builder.addFailure(rec);
      lines.push(JSON.stringify({ ...rec, error: true }));
      failed++;
    }
    const results = await Promise.all(explained.map((e) => writeImageFiles(e, o)));
    for (const r of results) {
      builder.addResult(r);
      lines.push(JSON.stringify(r));
    }
    done += batches[b].length;
    o.onProgress?.('heatmaps', done, o.items.length, failed);
  }
  const summary = builder.build(
    {
      ...o.run,
      model: o.model,
      dataset: o.dataset,
      proxies: { id: proxies.meta.id, scheme: proxies.meta.scheme, classes: proxies.size },
      target: o.target ?? 'gt',
      resolution: o.resolution ?? 'eval224',
      tau: o.tau ?? 0.2,
      runtime: o.cam.model.backbone.runtime,
    },
    { tau: o.tau },
  );
  await o.out.put('results.jsonl', lines.length ? `${lines.join('\n')}\n` : '', {
    contentType: 'application/x-ndjson',
  });
  await o.out.put('summary.json', `${JSON.stringify(summary, null, 2)}\n`, {
    contentType: 'application/json',
  });
  return { summary, proxies };
}

/** Heatmap PNG (evaluation resolution) and overlay (original image, GT box in green). */
async function writeImageFiles(e: ExplainedImage, o: ExplainRunOptions): Promise<ImageResult> {
  const safe = e.item.id.replace(/[^A-Za-z0-9._-]/g, '_');
  const heatmap = `heatmaps/${safe}.png`;
  const { width, height, data } = e.evaluated.heatmap;
  await o.out.put(heatmap, await encodeHeatmapPng(data, width, height), { contentType: 'image/png' });
  let overlay: string | undefined;
  if (o.overlays !== false) {
    overlay = `overlays/${safe}.jpg`;
    const img = await renderExplainOverlay(e.bytes, e.evaluated.heatmap, {
      box: e.item.bbox,
      label: e.item.uri,
    });
    await o.out.put(overlay, img, { contentType: 'image/jpeg' });
  }
  return toImageResult(e, { heatmap, overlay });
}
