import { EmbeddingCam, loadCamModel, loadModelSpec, type ProxyPicker } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { loadItems, packBatch, type ReadImage, readLocalImage } from '@embedcam/explain';
import { applyHead, type DenseLayer } from './train-head.js';

export interface VerifyResult {
  images: number;
  /** max |full-model embedding − head(cached feature)| over the verified images. */
  maxAbsDiff: number;
  /** Gradient path EmbeddingCAM takes with the written spec ('closed-form' for a linear head). */
  gradient: 'closed-form' | 'autodiff';
  /** max |closed-form − autodiff| of the raw CAMs, relative to the largest map value (linear heads). */
  closedFormVsAutodiff?: number;
}

/**
 * Loads a written spec the way every command does (loadModelSpec + loadCamModel), pushes a few
 * images through the full model and compares with head(feature); runs EmbeddingCAM with the
 * default gradient path, and for a linear head also compares the closed form with autodiff.
 */
export async function verifyHeadSpec(
  specPath: string,
  items: DatasetItem[],
  features: Float32Array,
  layers: readonly DenseLayer[],
  read: ReadImage = readLocalImage,
): Promise<VerifyResult> {
  const spec = await loadModelSpec(specPath);
  const model = await loadCamModel(spec);
  try {
    const { loaded, failed } = await loadItems(items, spec, read);
    if (failed.length > 0) throw new Error(`Verification: ${failed[0].message}`);
    const n = loaded.length;
    if (n === 0)
      return { images: 0, maxAbsDiff: 0, gradient: model.head.linear ? 'closed-form' : 'autodiff' };
    const input = packBatch(
      loaded.map((l) => l.image),
      spec,
      model.backbone.inputLayout,
    );
    const cam = new EmbeddingCam(model, 'auto');
    const y = await cam.embed(input, n);
    const expected = applyHead(layers, features, n);
    let maxAbsDiff = 0;
    for (let i = 0; i < y.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(y[i] - expected[i]));
    // Explain each image against the next image's embedding (a proxy that is not its own).
    const pick: ProxyPicker = (emb, m, dim) => {
      const p = new Float32Array(m * dim);
      for (let i = 0; i < m; i++)
        p.set(emb.subarray(((i + 1) % m) * dim, (((i + 1) % m) + 1) * dim), i * dim);
      return p;
    };
    const auto = await cam.explain(input, n, pick);
    if (!auto.maps.every(Number.isFinite))
      throw new Error('Verification: EmbeddingCAM produced non-finite maps.');
    let closedFormVsAutodiff: number | undefined;
    if (auto.gradient === 'closed-form') {
      const ad = await new EmbeddingCam(model, 'autodiff').explain(input, n, pick);
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < ad.maps.length; i++) {
        diff = Math.max(diff, Math.abs(ad.maps[i] - auto.maps[i]));
        scale = Math.max(scale, Math.abs(ad.maps[i]));
      }
      closedFormVsAutodiff = scale > 0 ? diff / scale : diff;
    }
    return { images: n, maxAbsDiff, gradient: auto.gradient, closedFormVsAutodiff };
  } finally {
    model.dispose();
  }
}
