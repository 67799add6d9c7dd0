import type { Box } from './box.js';
import { neighbours8 } from './neighbours.js';

/** Per-threshold IoUs of the predicted boxes with the ground truth (see {@link sweepThresholds}). */
export interface SweepResult {
  /** IoU of the LARGEST component's box at each threshold; 0 where no pixel reaches it. */
  largestIou: Float64Array;
  /** Best IoU over ALL components' boxes at each threshold; 0 where no pixel reaches it. */
  bestIou: Float64Array;
}

/**
 * Connected components of `map >= t` for every threshold `t` in `thresholds` (strictly
 * ascending), in one pass: pixels are switched on from the highest threshold down and merged into
 * their 8-neighbours with a union–find that tracks size, bounding box and first raster pixel.
 * Lowering the threshold only ever adds pixels and merges components, so the components at each
 * threshold are exactly those of an independent flood fill (`componentBoxes`) — at the cost of
 * one pass over the map instead of one per threshold.
 *
 * The largest component is chosen as in `componentBoxes`: most pixels, ties to the component whose
 * first pixel comes first in raster order. Boxes are in pixel units `[x0, y0, x1−x0+1, y1−y0+1]`.
 */
export function sweepThresholds(
  map: Float32Array | ArrayLike<number>,
  width: number,
  height: number,
  thresholds: readonly number[],
  gt: Box,
): SweepResult {
  if (map.length !== width * height) {
    throw new RangeError(`sweepThresholds: map has ${map.length} values, expected ${width}×${height}`);
  }
  // A typed copy: element reads from a frozen JS array (TAUS) are ~10× slower in V8.
  const th = Float64Array.from(thresholds);
  for (let i = 1; i < th.length; i++) {
    if (!(th[i] > th[i - 1])) throw new RangeError('sweepThresholds: thresholds must be strictly ascending');
  }
  const T = th.length;
  const { order, start } = orderByLevel(map, th);
  const forest = new ComponentForest(width, height);
  const largestIou = new Float64Array(T);
  const bestIou = new Float64Array(T);
  const out = new Float64Array(2);
  for (let t = T - 1; t >= 0; t--) {
    // Pixels whose highest reached threshold is t sit in order[start[t + 1] .. start[t + 2]).
    forest.activate(order, start[t + 1], start[t + 2]);
    forest.score(gt, out);
    largestIou[t] = out[0];
    bestIou[t] = out[1];
  }
  return { largestIou, bestIou };
}

/**
 * Pixels sorted (counting sort) by the highest threshold index they reach; level −1 (below every
 * threshold) first. Comparisons are `v >= th[i]`, exactly those of `componentBoxes`.
 */
function orderByLevel(
  map: Float32Array | ArrayLike<number>,
  th: Float64Array,
): { order: Int32Array; start: Int32Array } {
  const n = map.length;
  const T = th.length;
  const slot = new Int32Array(n); // level + 1, in 0..T
  const count = new Int32Array(T + 1);
  for (let p = 0; p < n; p++) {
    const v = map[p];
    let lo = 0;
    let hi = T; // the number of thresholds <= v lies in [lo, hi]
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v >= th[mid]) lo = mid + 1;
      else hi = mid;
    }
    slot[p] = lo;
    count[lo]++;
  }
  const start = new Int32Array(T + 2);
  for (let k = 1; k <= T + 1; k++) start[k] = start[k - 1] + count[k - 1];
  const fill = start.slice(0, T + 1);
  const order = new Int32Array(n);
  for (let p = 0; p < n; p++) order[fill[slot[p]]++] = p;
  return { order, start };
}

/**
 * Union–find over the pixels switched on so far. The hot loops live in small methods of a
 * monomorphic class: as one long function V8 kept deoptimising it and it ran several times slower.
 */
class ComponentForest {
  private readonly parent: Int32Array; // −1: pixel not switched on yet
  private readonly size: Int32Array;
  private readonly minX: Int32Array;
  private readonly maxX: Int32Array;
  private readonly minY: Int32Array;
  private readonly maxY: Int32Array;
  private readonly first: Int32Array; // first raster pixel of the component
  private readonly roots: Int32Array; // candidate roots; stale ones are dropped in score()
  private rootCount = 0;
  private readonly near = new Int32Array(8); // scratch for neighbours8

  constructor(
    private readonly width: number,
    private readonly height: number,
  ) {
    const n = width * height;
    this.parent = new Int32Array(n).fill(-1);
    this.size = new Int32Array(n);
    this.minX = new Int32Array(n);
    this.maxX = new Int32Array(n);
    this.minY = new Int32Array(n);
    this.maxY = new Int32Array(n);
    this.first = new Int32Array(n);
    this.roots = new Int32Array(n);
  }

  activate(order: Int32Array, from: number, to: number): void {
    const { width, height, parent, size, minX, maxX, minY, maxY, first, roots, near } = this;
    for (let k = from; k < to; k++) {
      const p = order[k];
      const px = p % width;
      const py = (p - px) / width;
      parent[p] = p;
      size[p] = 1;
      minX[p] = px;
      maxX[p] = px;
      minY[p] = py;
      maxY[p] = py;
      first[p] = p;
      roots[this.rootCount++] = p;
      let rp = p;
      const count = neighbours8(p, width, height, near);
      for (let i = 0; i < count; i++) {
        let rq = near[i];
        if (parent[rq] === -1) continue;
        while (parent[rq] !== rq) {
          parent[rq] = parent[parent[rq]]; // path halving
          rq = parent[rq];
        }
        if (rq === rp) continue;
        if (size[rq] > size[rp]) {
          const swap = rq;
          rq = rp;
          rp = swap;
        }
        // Union by size: rq's tree joins rp's.
        parent[rq] = rp;
        size[rp] += size[rq];
        if (minX[rq] < minX[rp]) minX[rp] = minX[rq];
        if (maxX[rq] > maxX[rp]) maxX[rp] = maxX[rq];
        if (minY[rq] < minY[rp]) minY[rp] = minY[rq];
        if (maxY[rq] > maxY[rp]) maxY[rp] = maxY[rq];
        if (first[rq] < first[rp]) first[rp] = first[rq];
      }
    }
  }

  /** out[0] = IoU of the largest component's box with gt, out[1] = best IoU over all (0 if none). */
  score(gt: Box, out: Float64Array): void {
    const { parent, size, minX, maxX, minY, maxY, first, roots } = this;
    const gx0 = gt[0];
    const gy0 = gt[1];
    const gx1 = gt[0] + gt[2];
    const gy1 = gt[1] + gt[3];
    const gArea = Math.max(0, gt[2]) * Math.max(0, gt[3]);
    let live = 0;
    let largest = -1;
    let largestIou = 0;
    let bestIou = 0;
    for (let k = 0; k < this.rootCount; k++) {
      const r = roots[k];
      if (parent[r] !== r) continue; // absorbed by a merge
      roots[live++] = r;
      const bx0 = minX[r];
      const by0 = minY[r];
      const bx1 = maxX[r] + 1;
      const by1 = maxY[r] + 1;
      const iw = Math.min(bx1, gx1) - Math.max(bx0, gx0);
      const ih = Math.min(by1, gy1) - Math.max(by0, gy0);
      const inter = iw > 0 && ih > 0 ? iw * ih : 0;
      const both = (bx1 - bx0) * (by1 - by0) + gArea - inter;
      const v = both > 0 ? inter / both : 0;
      if (v > bestIou) bestIou = v;
      if (
        largest < 0 ||
        size[r] > size[largest] ||
        (size[r] === size[largest] && first[r] < first[largest])
      ) {
        largest = r;
        largestIou = v;
      }
    }
    this.rootCount = live;
    out[0] = largestIou;
    out[1] = bestIou;
  }
}
