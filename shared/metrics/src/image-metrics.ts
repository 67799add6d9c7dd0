import { CENTRED_SIZES, centredBox, wholeImageBox } from './baseline-boxes.js';
import type { Box } from './box.js';
import { boxArea, boxContains, intersectionArea, iou, validateBox } from './box.js';
import type { Heatmap } from './heatmap-ops.js';
import { sweepThresholds } from './threshold-sweep.js';

/** Heatmap thresholds τ = 0, 0.01, …, 0.99 (fractions of the map's max). */
export const TAUS: readonly number[] = Object.freeze(Array.from({ length: 100 }, (_, i) => i / 100));

/** IoU thresholds δ of MaxBoxAccV2; δ = 0.5 is the classic one. */
export const DELTAS = [0.3, 0.5, 0.7] as const;
export type Delta = (typeof DELTAS)[number];

/** Index of δ = 0.5 in {@link DELTAS}. */
export const DELTA_05 = 1;

/**
 * An IoU that should be exactly δ can come out a hair below it in floating point (e.g. 0.4999…);
 * this slack keeps such boxes hits. It is far below any IoU difference one pixel makes.
 */
export const IOU_EPSILON = 1e-9;

export interface ImageMetricsOptions {
  /** Side fractions of the centred-box baseline; default {@link CENTRED_SIZES}. */
  centredSizes?: readonly number[];
}

/** Everything one image contributes to the run's metrics; plain numbers, JSON-serialisable. */
export interface ImageMetrics {
  /** Σ cam inside the GT box / Σ cam (pixel centres inside the box); null when the map is all zero. */
  energyRatio: number | null;
  /** GT box area / image area: the energy ratio of a uniform map (up to pixel quantisation). */
  chance: number;
  /**
   * Mean cam inside the box / mean cam outside. null when undefined: all-zero map, no pixel centre
   * inside or outside the box, or an outside mean of 0 (the ratio would be infinite).
   */
  insideOutside: number | null;
  /** Argmax pixel's centre (first in raster order on ties) inside the box; false for an all-zero map. */
  pointing: boolean;
  /** The map has no signal (max 0). Its localisation hits are all 0, as in wsolevaluation. */
  zeroMap: boolean;
  /** [δ][τ] 1 when the box of the LARGEST component of cam ≥ τ has IoU ≥ δ (GT-known Loc, MaxBoxAcc). */
  largestHits: number[][];
  /** [δ][τ] 1 when the best of ALL component boxes at τ has IoU ≥ δ (MaxBoxAccV2). */
  bestMatchHits: number[][];
  /** [δ][size] 1 when the centred box of side fraction s has IoU ≥ δ. */
  centredHits: number[][];
  /** [size] energy ratio of a map that is 1 inside the centred box: area(centred ∩ gt) / area(centred). */
  centredEnergy: number[];
  /** [δ] 1 when the whole-image box (uniform map) has IoU ≥ δ. */
  uniformHits: number[];
  /** The image centre lies inside the GT box (pointing-game baseline). */
  centrePointing: boolean;
}

function isHit(value: number, delta: number): number {
  return value >= delta - IOU_EPSILON ? 1 : 0;
}

/**
 * Per-image localisation metrics of a normalised heatmap against its ground-truth box, both at the
 * evaluation resolution (scale the box first with `scaleBox`).
 *
 * - The map must be finite and non-negative (use `normalizeMinMax`). Thresholds are τ × max, which
 *   on a normalised map (max 1) is exactly `value >= τ`.
 * - The box is validated with `validateBox` (throws `BoxError`) and clipped to the map.
 * - A pixel is inside the box when its centre (x + 0.5, y + 0.5) lies in [x, x+w] × [y, y+h].
 */
export function computeImageMetrics(map: Heatmap, gtBox: Box, opts: ImageMetricsOptions = {}): ImageMetrics {
  const { width: W, height: H, data } = map;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W <= 0 || H <= 0) {
    throw new RangeError(`computeImageMetrics: heatmap size must be positive integers, got ${W}×${H}`);
  }
  if (data.length !== W * H) {
    throw new RangeError(`computeImageMetrics: heatmap has ${data.length} values, expected ${W}×${H}`);
  }
  const gt = validateBox(gtBox, W, H);
  const sizes = opts.centredSizes ?? CENTRED_SIZES;

  // Pixel columns/rows whose centres fall inside the box (may be empty for a sub-pixel box).
  const c0 = Math.max(0, Math.ceil(gt[0] - 0.5));
  const c1 = Math.min(W - 1, Math.floor(gt[0] + gt[2] - 0.5));
  const r0 = Math.max(0, Math.ceil(gt[1] - 0.5));
  const r1 = Math.min(H - 1, Math.floor(gt[1] + gt[3] - 0.5));

  // One pass: energy inside/outside (summed separately so an empty outside is exactly 0) and argmax.
  let sumIn = 0;
  let sumOut = 0;
  let max = Number.NEGATIVE_INFINITY;
  let argmax = 0;
  for (let r = 0; r < H; r++) {
    const rowIn = r >= r0 && r <= r1;
    const base = r * W;
    for (let c = 0; c < W; c++) {
      const v = data[base + c];
      if (!(v >= 0) || v === Number.POSITIVE_INFINITY) {
        throw new RangeError(
          `computeImageMetrics: heatmap value ${v} at (${c}, ${r}) is not a finite non-negative number`,
        );
      }
      if (v > max) {
        max = v;
        argmax = base + c;
      }
      if (rowIn && c >= c0 && c <= c1) sumIn += v;
      else sumOut += v;
    }
  }
  const zeroMap = !(max > 0);
  const total = sumIn + sumOut;
  const countIn = c1 >= c0 && r1 >= r0 ? (c1 - c0 + 1) * (r1 - r0 + 1) : 0;
  const countOut = W * H - countIn;

  let energyRatio: number | null = null;
  let insideOutside: number | null = null;
  let pointing = false;
  if (!zeroMap) {
    energyRatio = sumIn / total;
    const meanOut = countOut > 0 ? sumOut / countOut : 0;
    if (countIn > 0 && meanOut > 0) insideOutside = sumIn / countIn / meanOut;
    const ax = argmax % W;
    pointing = boxContains(gt, ax + 0.5, (argmax - ax) / W + 0.5);
  }

  let largestHits: number[][];
  let bestMatchHits: number[][];
  if (zeroMap) {
    largestHits = DELTAS.map(() => TAUS.map(() => 0));
    bestMatchHits = DELTAS.map(() => TAUS.map(() => 0));
  } else {
    // τ is a fraction of the max; on a normalised map (max 1) this is τ itself, bit for bit.
    const thresholds = max === 1 ? TAUS : TAUS.map((t) => t * max);
    const sweep = sweepThresholds(data, W, H, thresholds, gt);
    largestHits = DELTAS.map((d) => Array.from(sweep.largestIou, (v) => isHit(v, d)));
    bestMatchHits = DELTAS.map((d) => Array.from(sweep.bestIou, (v) => isHit(v, d)));
  }

  const centred = sizes.map((s) => centredBox(s, W, H));
  const centredIou = centred.map((b) => iou(b, gt));
  const whole = wholeImageBox(W, H);
  const uniformIou = iou(whole, gt);

  return {
    energyRatio,
    chance: boxArea(gt) / (W * H),
    insideOutside,
    pointing,
    zeroMap,
    largestHits,
    bestMatchHits,
    centredHits: DELTAS.map((d) => centredIou.map((v) => isHit(v, d))),
    centredEnergy: centred.map((b) => intersectionArea(b, gt) / boxArea(b)),
    uniformHits: DELTAS.map((d) => isHit(uniformIou, d)),
    centrePointing: boxContains(gt, W / 2, H / 2),
  };
}
