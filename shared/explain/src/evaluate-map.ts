import {
  type Box,
  computeImageMetrics,
  type Heatmap,
  type ImageMetrics,
  scaleBox,
  upsampleNormalized,
  validateBox,
} from '@embedcam/metrics';

/** `eval224`: the map resized to 224×224 with boxes scaled (Choe et al. 2020); `original`: image size. */
export type EvalResolution = 'eval224' | 'original';

export interface EvaluatedMap {
  /** The upsampled, min–max normalised heatmap at the evaluation resolution. */
  heatmap: Heatmap;
  /** Null when the image has no box (the map is still produced). */
  metrics: ImageMetrics | null;
  allZero: boolean;
  /** The GT box in heatmap coordinates. */
  box: Box | null;
}

/**
 * The per-image post-processing of DESIGN §1.3 and the metrics of §2: upsample the raw h×w CAM
 * bilinearly, normalise to [0,1] (an all-zero map stays zero and is flagged), score against the
 * GT box scaled to the same grid. Throws BoxError for a box outside the image.
 */
export function evaluateMap(
  raw: Float32Array,
  rawW: number,
  rawH: number,
  original: { width: number; height: number },
  box: Box | undefined,
  resolution: EvalResolution = 'eval224',
): EvaluatedMap {
  const outW = resolution === 'eval224' ? 224 : original.width;
  const outH = resolution === 'eval224' ? 224 : original.height;
  const checked = box ? validateBox(box, original.width, original.height) : null;
  const { map, allZero } = upsampleNormalized(raw, rawW, rawH, outW, outH);
  const heatmap: Heatmap = { width: outW, height: outH, data: map };
  const scaled = checked ? scaleBox(checked, original.width, original.height, outW, outH) : null;
  return { heatmap, metrics: scaled ? computeImageMetrics(heatmap, scaled) : null, allZero, box: scaled };
}
