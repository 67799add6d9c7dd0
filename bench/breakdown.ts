// Where a compute thread's time goes, step by step, on the pipeline's images: the same steps as
// compute-thread.ts (decode + resize, forward, head gradient + CAM, upsampling + metrics, PNG),
// timed one after the other in one thread, in batches as the thread gets them.
import { decodeProxySet, EmbeddingCam, loadCamModel, resolveModelSpec } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { evaluateMap, explainBatch, packBatch } from '@embedcam/explain';
import { encodeHeatmapPng, type PreparedImage, prepareForModel } from '@embedcam/images';

/** Milliseconds per image of each step. */
export interface ComputeBreakdown {
  decodeResize: number;
  /** Packing the batch + backbone forward + head (the embedding). */
  forward: number;
  /** Head gradient, CAM and nearest-proxy search on top of the forward pass. */
  gradientCam: number;
  /** Upsampling to 224×224, normalisation and the metrics. */
  upsampleMetrics: number;
  png: number;
  total: number;
}

export class BreakdownBench {
  private constructor(
    private readonly cam: EmbeddingCam,
    private readonly proxies: ReturnType<typeof decodeProxySet>,
  ) {}

  static async load(
    engine: 'onnx' | 'tfjs',
    proxyData: Uint8Array,
    proxyMeta: string,
  ): Promise<BreakdownBench> {
    const spec = await resolveModelSpec('default', engine);
    const model = await loadCamModel(spec, { engine, tfBackend: process.env.EMBEDCAM_TF_BACKEND });
    return new BreakdownBench(new EmbeddingCam(model), decodeProxySet(proxyData, proxyMeta));
  }

  async run(
    files: Array<{ item: DatasetItem; bytes: Buffer }>,
    batchSize: number,
  ): Promise<ComputeBreakdown> {
    const spec = this.cam.model.spec;
    const layout = this.cam.model.backbone.inputLayout;
    const t = { decodeResize: 0, forward: 0, explain: 0, upsampleMetrics: 0, png: 0 };
    const now = () => performance.now();
    for (let i = 0; i < files.length; i += batchSize) {
      const batch = files.slice(i, i + batchSize);
      let t0 = now();
      const images: PreparedImage[] = await Promise.all(
        batch.map((f) =>
          prepareForModel(f.bytes, { width: spec.input.width, height: spec.input.height, label: f.item.id }),
        ),
      );
      t.decodeResize += now() - t0;

      t0 = now();
      await this.cam.embed(packBatch(images, spec, layout), images.length);
      t.forward += now() - t0;

      // explainBatch = pack + forward + gradient + CAM + evaluateMap; evaluateMap is timed apart below.
      t0 = now();
      const loaded = batch.map((f, j) => ({ item: f.item, image: images[j], bytes: f.bytes }));
      const { explained, failed } = await explainBatch(this.cam, loaded, this.proxies, {
        target: 'gt',
        resolution: 'eval224',
      });
      t.explain += now() - t0;
      if (failed.length) throw new Error(`breakdown: ${failed[0].item.id} failed: ${failed[0].message}`);

      t0 = now();
      for (const e of explained)
        evaluateMap(e.raw.data, e.raw.width, e.raw.height, e.image.original, e.item.bbox, 'eval224');
      const evalMs = now() - t0;
      t.upsampleMetrics += evalMs;
      t.explain -= evalMs; // explainBatch evaluated every map once already

      t0 = now();
      await Promise.all(
        explained.map((e) =>
          encodeHeatmapPng(e.evaluated.heatmap.data, e.evaluated.heatmap.width, e.evaluated.heatmap.height),
        ),
      );
      t.png += now() - t0;
    }
    const n = files.length;
    const r: ComputeBreakdown = {
      decodeResize: t.decodeResize / n,
      forward: t.forward / n,
      gradientCam: Math.max(0, t.explain - t.forward) / n,
      upsampleMetrics: t.upsampleMetrics / n,
      png: t.png / n,
      total: 0,
    };
    r.total = r.decodeResize + r.forward + r.gradientCam + r.upsampleMetrics + r.png;
    return r;
  }

  dispose(): void {
    this.cam.model.dispose();
  }
}
