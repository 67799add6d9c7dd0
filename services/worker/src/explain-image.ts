// One image of a run: its run config, model pool and proxies, the file read and sent to the
// batcher, then the heatmap, overlay and result JSON written to their deterministic keys.
import { LoadCache, type ModelInfo, type PoolRegistry } from '@embedcam/compute';
import type { DatasetItem } from '@embedcam/datasets';
import { type ExplainedImage, toImageResult } from '@embedcam/explain';
import { DEFAULT_MAX_PIXELS, readImageSize } from '@embedcam/images';
import { type HeatmapJob, type RunConfig, storageKeys } from '@embedcam/queues';
import { InputReader, type InputReaderOptions, type ObjectStore } from '@embedcam/storage';
import type { BatchRunner } from './batch-runner.js';
import { loadProxies, loadRunConfig, type StoredProxies } from './caches.js';
import { HandedBack, JobFailure } from './failures.js';
import type { PixelBudget } from './pixel-budget.js';
import type { WorkerStatsRecorder } from './worker-stats.js';

export interface ImageExplainerOptions {
  store: ObjectStore;
  pools: Pick<PoolRegistry, 'key' | 'get'>;
  batches: Pick<BatchRunner, 'submit'>;
  stats: Pick<WorkerStatsRecorder, 'addStageTimes'>;
  /** Decoded pixels in flight (see PixelBudget); none: unbounded. */
  budget?: PixelBudget;
  /**
   * Input confinement: images are read only from the run's dataset directory, the store and
   * `allowed` (EMBEDCAM_ALLOWED_URIS), up to `maxBytes` (EMBEDCAM_MAX_READ_BYTES).
   */
  inputs?: Pick<InputReaderOptions, 'allowed' | 'maxBytes'>;
}

export class ImageExplainer {
  private readonly runs: LoadCache<RunConfig>;
  private readonly proxySets: LoadCache<StoredProxies>;
  private readonly reader: InputReader;

  constructor(private readonly opts: ImageExplainerOptions) {
    this.reader = new InputReader({ ...opts.inputs, store: opts.store });
    this.runs = new LoadCache((runId) => loadRunConfig(opts.store, runId), 1024);
    this.proxySets = new LoadCache((proxyId) => loadProxies(opts.store, proxyId), 16);
  }

  /**
   * Explains the image and writes its files; resolves with the key of its result JSON. Throws
   * HandedBack if `aborted()` turns true while it computes (nothing is written then).
   */
  /**
   * Waits for the image's decoded pixels to fit the budget (its header says how many). An image
   * whose header cannot be read, or that is over the per-image limit, holds nothing: the compute
   * thread refuses it before decoding and reports why.
   */
  private async holdPixels(bytes: Uint8Array, id: string): Promise<() => void> {
    const { budget } = this.opts;
    if (!budget) return () => {};
    const size = await readImageSize(bytes, id).catch(() => null);
    const pixels = size ? size.width * size.height : 0;
    return budget.acquire(pixels > DEFAULT_MAX_PIXELS ? 0 : pixels);
  }

  async explain(p: HeatmapJob, item: DatasetItem, aborted: () => boolean): Promise<string> {
    const { store, pools, batches } = this.opts;
    const run = await this.runs.get(p.runId);
    const modelKey = pools.key(run.model, run.engine);
    const pool = await pools.get(modelKey);
    const proxies = await this.proxySets.get(run.proxyId);
    checkModel(run, proxies, pool.info);
    if (!pool.hasProxies(run.proxyId)) pool.setProxies(run.proxyId, proxies.data, proxies.meta);

    const t0 = performance.now();
    const bytes = await this.reader.read(p.uri, run.dataset.source);
    const tRead = performance.now();
    // Decoding, resizing, the heatmap PNG and the overlay all happen on the compute thread too:
    // their synchronous JavaScript (resize, colour blend) would otherwise hold up this event loop.
    const groupKey = JSON.stringify([modelKey, run.proxyId, run.target, run.resolution, run.overlays]);
    const release = await this.holdPixels(bytes, item.id);
    let res: Awaited<ReturnType<typeof batches.submit>>;
    try {
      res = await batches.submit(groupKey, {
        pool,
        proxyId: run.proxyId,
        target: run.target,
        resolution: run.resolution,
        overlays: run.overlays,
        input: { item, bytes },
      });
    } finally {
      release();
    }
    const tComp = performance.now();
    if (aborted()) throw new HandedBack();

    const heatmapKey = storageKeys.heatmap(p.runId, p.imageId);
    const overlayKey = run.overlays ? storageKeys.overlay(p.runId, p.imageId) : undefined;
    await Promise.all([
      store.put(heatmapKey, res.png!, { contentType: 'image/png' }),
      overlayKey && store.put(overlayKey, res.overlay!, { contentType: 'image/jpeg' }),
    ]);
    const explained = {
      item,
      image: { original: res.original, width: 0, height: 0, pixels: new Uint8Array(0) },
      bytes: Buffer.alloc(0),
      targetLabel: res.targetLabel,
      score: res.score,
      nearestLabel: res.nearestLabel,
      raw: res.raw,
      evaluated: { heatmap: res.heatmap, metrics: res.metrics, allZero: res.allZero, box: res.box },
    } satisfies ExplainedImage;
    const resultKey = storageKeys.result(p.runId, p.imageId);
    const result = toImageResult(explained, { heatmap: heatmapKey, overlay: overlayKey });
    // Written last: its presence means the heatmap (and overlay) are there too.
    await store.put(resultKey, JSON.stringify(result), { contentType: 'application/json' });
    this.opts.stats.addStageTimes({
      read: tRead - t0,
      compute: tComp - tRead,
      write: performance.now() - tComp,
    });
    return resultKey;
  }
}

/**
 * Refuses (permanently, model-mismatch) a run or proxy set made with other weights than the loaded
 * model, or proxies of another embedding dimension: their heatmaps would be meaningless.
 */
export function checkModel(run: RunConfig, proxies: StoredProxies, model: ModelInfo): void {
  const fp = model.fingerprint;
  const mismatch = (what: string, theirs: string) =>
    new JobFailure(
      'model-mismatch',
      `${what} was made with model fingerprint ${theirs}, but ${run.model} on this worker has ${fp} (${model.name}); the weights differ — use the same model files everywhere or rebuild.`,
      true,
    );
  if (run.modelFingerprint && run.modelFingerprint !== fp)
    throw mismatch(`Run ${run.runId}`, run.modelFingerprint);
  const pfp = proxies.set.meta.model.fingerprint;
  if (pfp && pfp !== fp) throw mismatch(`Proxy set ${run.proxyId}`, pfp);
  if (proxies.set.meta.dim !== model.dim)
    throw new JobFailure(
      'model-mismatch',
      `Proxy set ${run.proxyId} has dimension ${proxies.set.meta.dim}; ${model.name} embeds in ${model.dim}.`,
      true,
    );
}
