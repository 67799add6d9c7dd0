/** Piecewise-linear control points (x, value) per channel: matplotlib's `jet` segment data. */
const JET_SEGMENTS: ReadonlyArray<ReadonlyArray<readonly [number, number]>> = [
  [
    [0, 0],
    [0.35, 0],
    [0.66, 1],
    [0.89, 1],
    [1, 0.5],
  ],
  [
    [0, 0],
    [0.125, 0],
    [0.375, 1],
    [0.64, 1],
    [0.91, 0],
    [1, 0],
  ],
  [
    [0, 0.5],
    [0.11, 1],
    [0.34, 1],
    [0.65, 0],
    [1, 0],
  ],
];

function segmentValue(points: ReadonlyArray<readonly [number, number]>, x: number): number {
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i];
    if (x <= x1) {
      const [x0, y0] = points[i - 1];
      return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
    }
  }
  return points[points.length - 1][1];
}

/**
 * matplotlib's jet as it renders: a 256-entry table sampled at i/255, looked up with
 * floor(v·256) clamped to 0..255. Matching it exactly lets figures be compared with Python
 * Grad-CAM tooling; OpenCV's COLORMAP_JET differs by a few levels in places.
 * RGB triples in 0..1. Shared: treat as read-only (not re-exported from the package).
 */
export const JET_LUT: Float32Array = (() => {
  const lut = new Float32Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = segmentValue(JET_SEGMENTS[c], i / 255);
  }
  return lut;
})();

/** Table index for a map value in [0,1]; below 0 and NaN → 0 (blue), above 1 → 255 (dark red). */
export function jetIndex(v: number): number {
  if (!(v > 0)) return 0;
  return Math.min(255, Math.floor(v * 256));
}

/** RGB in 0..1 for a map value in [0,1]; equals matplotlib.cm.jet(v)[:3]. */
export function jet(v: number): [number, number, number] {
  const i = jetIndex(v) * 3;
  return [JET_LUT[i], JET_LUT[i + 1], JET_LUT[i + 2]];
}
