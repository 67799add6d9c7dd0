import type { Box } from './box.js';
import { neighbours8 } from './neighbours.js';

/** One connected region of a thresholded map. */
export interface Component {
  /** Tight bounding box in pixel units: `[x0, y0, x1 − x0 + 1, y1 − y0 + 1]`. */
  box: Box;
  /** Number of pixels. */
  size: number;
}

/**
 * 8-connected components of the pixels with `value >= threshold`, largest first (ties: the
 * component whose first pixel comes first in raster order). `threshold` is absolute; on a
 * normalised map it is τ as a fraction of the max.
 *
 * This is the plain, one-threshold version (an explicit stack, no recursion, so any map size is
 * safe). `computeImageMetrics` does all 100 thresholds in one union–find pass instead
 * (`threshold-sweep.ts`), and the tests check that both agree.
 *
 * Edge cases:
 * - No pixel reaches the threshold → `[]` (the predicted box is empty and never a hit).
 * - An all-zero map at τ = 0: every pixel is ≥ 0, so this returns one component covering the
 *   image. The metrics do NOT use it: wsolevaluation (Choe et al.) finds no contour in an all-zero
 *   map at any τ and scores it as a miss, and `computeImageMetrics` does the same (`zeroMap`).
 */
export function componentBoxes(
  map: Float32Array | ArrayLike<number>,
  width: number,
  height: number,
  threshold: number,
): Component[] {
  if (map.length !== width * height) {
    throw new RangeError(`componentBoxes: map has ${map.length} values, expected ${width}×${height}`);
  }
  const n = width * height;
  const seen = new Uint8Array(n);
  const stack = new Int32Array(n);
  const near = new Int32Array(8);
  const found: Array<Component & { first: number }> = [];
  for (let start = 0; start < n; start++) {
    if (seen[start] || !(map[start] >= threshold)) continue;
    seen[start] = 1;
    let top = 0;
    stack[top++] = start;
    let size = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    while (top > 0) {
      const p = stack[--top];
      const px = p % width;
      const py = (p - px) / width;
      size++;
      if (px < x0) x0 = px;
      if (px > x1) x1 = px;
      if (py < y0) y0 = py;
      if (py > y1) y1 = py;
      const k = neighbours8(p, width, height, near);
      for (let i = 0; i < k; i++) {
        const q = near[i];
        if (!seen[q] && map[q] >= threshold) {
          seen[q] = 1;
          stack[top++] = q;
        }
      }
    }
    found.push({ box: [x0, y0, x1 - x0 + 1, y1 - y0 + 1], size, first: start });
  }
  // Components are discovered in raster order of their first pixel, so a stable sort on size
  // alone gives the documented tie-break.
  found.sort((a, b) => b.size - a.size);
  return found.map(({ box, size }) => ({ box, size }));
}
