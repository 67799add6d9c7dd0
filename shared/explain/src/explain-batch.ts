import { classPicker, type EmbeddingCam, type ProxySet, UnknownClassError } from '@embedcam/cam';
import { validateBox } from '@embedcam/metrics';
import { type EvalResolution, type EvaluatedMap, evaluateMap } from './evaluate-map.js';
import { type FailedItem, type LoadedItem, packBatch, toFailure } from './image-batch.js';

/** Which class to explain: the label (GT-known), the nearest proxy, or a fixed class. */
export type CamTarget = 'gt' | 'predicted' | number;

export interface ExplainedImage extends LoadedItem {
  /** The class whose proxy was explained. */
  targetLabel: number;
  score: number;
  /** The nearest proxy's class (audit: ≠ label flags possible label errors or confusable classes). */
  nearestLabel: number;
  raw: { width: number; height: number; data: Float32Array };
  evaluated: EvaluatedMap;
}

export interface ExplainBatchOptions {
  target?: CamTarget;
  resolution?: EvalResolution;
}

/**
 * EmbeddingCAM for a batch of decoded images: checks each image's class and box first (bad ones
 * fail alone), runs one forward + head-gradient pass for the rest, and evaluates every map.
 */
export async function explainBatch(
  cam: EmbeddingCam,
  loaded: LoadedItem[],
  proxies: ProxySet,
  opts: ExplainBatchOptions = {},
): Promise<{ explained: ExplainedImage[]; failed: FailedItem[] }> {
  const target = opts.target ?? 'gt';
  const failed: FailedItem[] = [];
  const ok: LoadedItem[] = [];
  for (const l of loaded) {
    try {
      const label = target === 'gt' ? l.item.label : target === 'predicted' ? null : target;
      if (label !== null && !proxies.has(label)) throw new UnknownClassError(label, proxies);
      if (l.item.bbox) validateBox(l.item.bbox, l.image.original.width, l.image.original.height);
      ok.push(l);
    } catch (err) {
      failed.push(toFailure(l.item, err));
    }
  }
  if (ok.length === 0) return { explained: [], failed };

  const spec = cam.model.spec;
  const input = packBatch(
    ok.map((l) => l.image),
    spec,
    cam.model.backbone.inputLayout,
  );
  const targets: number[] = [];
  const nearest: number[] = [];
  const batch = await cam.explain(input, ok.length, (y, n, dim) => {
    for (let i = 0; i < n; i++) {
      const near = proxies.meta.classes[proxies.nearest(y.subarray(i * dim, (i + 1) * dim))].label;
      nearest.push(near);
      targets.push(target === 'gt' ? ok[i].item.label : target === 'predicted' ? near : target);
    }
    return classPicker(proxies, targets)(y, n, dim);
  });

  const explained: ExplainedImage[] = [];
  const size = batch.height * batch.width;
  ok.forEach((l, i) => {
    const data = batch.maps.slice(i * size, (i + 1) * size);
    try {
      const evaluated = evaluateMap(
        data,
        batch.width,
        batch.height,
        l.image.original,
        l.item.bbox,
        opts.resolution,
      );
      explained.push({
        ...l,
        targetLabel: targets[i],
        score: batch.scores[i],
        nearestLabel: nearest[i],
        raw: { width: batch.width, height: batch.height, data },
        evaluated,
      });
    } catch (err) {
      failed.push(toFailure(l.item, err));
    }
  });
  return { explained, failed };
}
