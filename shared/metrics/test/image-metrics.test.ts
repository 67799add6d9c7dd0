import { rng } from '@embedcam/test-support/random';
import { describe, expect, it } from 'vitest';
import type { Box, Heatmap, ImageMetrics } from '../src/index.js';
import {
  BoxError,
  CENTRED_SIZES,
  componentBoxes,
  computeImageMetrics,
  DELTAS,
  iou,
  TAUS,
} from '../src/index.js';
import { camLikeMap, picture } from './maps.js';

/** Every number reachable in a value is finite (no NaN / Infinity leaks into reports). */
function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(allFinite);
  if (v !== null && typeof v === 'object') return Object.values(v).every(allFinite);
  return true;
}

function blockMap(w: number, h: number, x0: number, y0: number, bw: number, bh: number): Heatmap {
  const data = new Float32Array(w * h);
  for (let y = y0; y < y0 + bh; y++) for (let x = x0; x < x0 + bw; x++) data[y * w + x] = 1;
  return { width: w, height: h, data };
}

const T50 = TAUS.indexOf(0.5);

describe('computeImageMetrics: a block exactly on the GT box', () => {
  const map = blockMap(10, 10, 2, 3, 4, 4);
  const m = computeImageMetrics(map, [2, 3, 4, 4]);

  it('puts all energy in the box; inside/outside is undefined with nothing outside', () => {
    expect(m.energyRatio).toBe(1);
    expect(m.insideOutside).toBeNull();
    expect(m.chance).toBe(0.16);
    expect(m.zeroMap).toBe(false);
  });

  it('points inside (first max pixel in raster order is the block corner)', () => {
    expect(m.pointing).toBe(true);
    expect(m.centrePointing).toBe(true); // (5, 5) ∈ [2, 6] × [3, 7]
  });

  it('hits at every τ > 0 for every δ; τ = 0 takes the whole image (IoU 0.16) and misses', () => {
    for (let d = 0; d < DELTAS.length; d++) {
      expect(m.largestHits[d]).toEqual(TAUS.map((t) => (t > 0 ? 1 : 0)));
      expect(m.bestMatchHits[d]).toEqual(TAUS.map((t) => (t > 0 ? 1 : 0)));
    }
  });

  it('τ = 0 equals the uniform baseline: every pixel of a normalised map is >= 0', () => {
    expect(m.largestHits.map((row) => row[0])).toEqual(m.uniformHits);
    expect(m.uniformHits).toEqual([0, 0, 0]);
  });
});

describe('computeImageMetrics: hand-computed energy and ratios', () => {
  it('energy ratio and inside/outside of a half-in, half-out map', () => {
    // 4×2 map, box covers the left 2×2: inside 1+1+0.5+0.5 = 3, outside 0+0+0.5+0.5 = 1.
    const m = computeImageMetrics(picture(['##..', '++++']), [0, 0, 2, 2]);
    expect(m.energyRatio).toBe(0.75);
    expect(m.insideOutside).toBe(3 / 4 / (1 / 4));
    expect(m.chance).toBe(0.5);
  });

  it('counts a pixel as inside when its centre is inside the box', () => {
    const col3 = picture(['...#......', '...#......']);
    const col2 = picture(['..#.......', '..#.......']);
    const box: Box = [2.3, 0, 1, 2]; // column 2 (centre 2.5) is in, column 3 (centre 3.5) is out
    expect(computeImageMetrics(col2, box).energyRatio).toBe(1);
    expect(computeImageMetrics(col3, box).energyRatio).toBe(0);
  });

  it('a box containing no pixel centre: energy 0, inside/outside undefined', () => {
    const m = computeImageMetrics(picture(['###', '###']), [0.6, 0, 0.8, 2]);
    expect(m.energyRatio).toBe(0);
    expect(m.insideOutside).toBeNull();
  });

  it('uses τ as a fraction of the max: a scaled map gives the same metrics', () => {
    const rand = rng(3);
    const data = camLikeMap(rand, 32);
    const half = data.map((v) => v * 0.5);
    const gt: Box = [5, 6, 14, 12];
    const a = computeImageMetrics({ width: 32, height: 32, data }, gt);
    const b = computeImageMetrics({ width: 32, height: 32, data: half }, gt);
    expect(b.largestHits).toEqual(a.largestHits);
    expect(b.bestMatchHits).toEqual(a.bestMatchHits);
    expect(b.energyRatio).toBeCloseTo(a.energyRatio ?? Number.NaN, 12);
  });
});

describe('computeImageMetrics: boxes touching the image borders', () => {
  it('right half of the image, touching three borders', () => {
    const m = computeImageMetrics(blockMap(8, 8, 4, 0, 4, 8), [4, 0, 4, 8]);
    expect(m.energyRatio).toBe(1);
    expect(m.chance).toBe(0.5);
    expect(m.largestHits[2][T50]).toBe(1);
    // Whole image vs half: IoU 0.5 → hit at δ 0.3 and 0.5, miss at 0.7.
    expect(m.uniformHits).toEqual([1, 1, 0]);
    expect(m.centrePointing).toBe(true); // (4, 4) is on the box's left edge: inside (closed box)
  });

  it('clips a GT box overshooting by < 1 px and scores it as the clipped box', () => {
    const m = computeImageMetrics(blockMap(8, 8, 4, 0, 4, 8), [4, -0.4, 4.7, 8.9]);
    expect(m.chance).toBe(0.5);
    expect(m.largestHits[2][T50]).toBe(1);
  });

  it('throws BoxError for a GT box outside the heatmap', () => {
    expect(() => computeImageMetrics(blockMap(8, 8, 0, 0, 1, 1), [4, 0, 6, 8])).toThrow(BoxError);
  });
});

describe('computeImageMetrics: all-zero map', () => {
  const m = computeImageMetrics({ width: 6, height: 5, data: new Float32Array(30) }, [1, 1, 3, 2]);

  it('is flagged, with undefined ratios and no pointing', () => {
    expect(m.zeroMap).toBe(true);
    expect(m.energyRatio).toBeNull();
    expect(m.insideOutside).toBeNull();
    expect(m.pointing).toBe(false);
  });

  it('never hits (wsolevaluation: no contour), though the baselines are still computed', () => {
    expect(m.largestHits.flat().every((v) => v === 0)).toBe(true);
    expect(m.bestMatchHits.flat().every((v) => v === 0)).toBe(true);
    expect(m.chance).toBe(0.2);
    expect(m.centredEnergy[19]).toBe(0.2);
  });

  it('contains no NaN and survives JSON', () => {
    expect(allFinite(m)).toBe(true);
    expect(JSON.parse(JSON.stringify(m))).toEqual(m);
  });
});

describe('computeImageMetrics: argmax ties', () => {
  // Two equal maxima: (8, 1) comes first in raster order, (2, 5) second.
  const data = new Float32Array(100);
  data[1 * 10 + 8] = 1;
  data[5 * 10 + 2] = 1;
  const map: Heatmap = { width: 10, height: 10, data };

  it('takes the first pixel in raster order', () => {
    expect(computeImageMetrics(map, [0, 4, 4, 4]).pointing).toBe(false); // contains only (2, 5)
    expect(computeImageMetrics(map, [7, 0, 3, 3]).pointing).toBe(true); // contains only (8, 1)
  });
});

describe('computeImageMetrics: largest component vs best match', () => {
  // A 6×6 blob in the top-left and a 3×3 blob on the GT in the bottom-right.
  const w = 20;
  const data = new Float32Array(w * w);
  for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) data[y * w + x] = 1;
  for (let y = 14; y < 17; y++) for (let x = 14; x < 17; x++) data[y * w + x] = 1;
  const m = computeImageMetrics({ width: w, height: w, data }, [14, 14, 3, 3]);

  it('the largest component misses and the best match hits', () => {
    for (let d = 0; d < DELTAS.length; d++) {
      expect(m.largestHits[d][T50]).toBe(0);
      expect(m.bestMatchHits[d][T50]).toBe(1);
    }
  });

  it('energy 9/45 in the box; inside mean 1 over outside mean 36/391', () => {
    expect(m.energyRatio).toBeCloseTo(0.2, 15);
    expect(m.insideOutside).toBeCloseTo(391 / 36, 12);
  });

  it('joins diagonally touching blobs (8-connectivity) into one largest component', () => {
    const d2 = data.slice();
    for (let k = 6; k < 14; k++) d2[k * w + k] = 1; // diagonal bridge (6,6) … (13,13)
    const m2 = computeImageMetrics({ width: w, height: w, data: d2 }, [0, 0, 17, 17]);
    expect(m2.largestHits[2][T50]).toBe(1); // one box [0, 0, 17, 17]: IoU 1
  });
});

describe('computeImageMetrics: baselines', () => {
  const map = blockMap(100, 100, 30, 30, 10, 10);
  const m = computeImageMetrics(map, [25, 25, 50, 50]);
  const s = (v: number) => CENTRED_SIZES.indexOf(v);

  it('the centred box of the GT size hits at every δ and has energy ratio 1', () => {
    expect(s(0.5)).toBe(9);
    expect(m.centredHits.map((row) => row[s(0.5)])).toEqual([1, 1, 1]);
    expect(m.centredEnergy[s(0.5)]).toBe(1);
  });

  it('a smaller centred box: IoU 0.36 → hit at δ 0.3 only; energy 1', () => {
    expect(m.centredHits.map((row) => row[s(0.3)])).toEqual([1, 0, 0]);
    expect(m.centredEnergy[s(0.3)]).toBe(1);
  });

  it('the whole image (size 1 and the uniform map): IoU 0.25, energy = chance', () => {
    expect(m.centredHits.map((row) => row[s(1)])).toEqual([0, 0, 0]);
    expect(m.uniformHits).toEqual([0, 0, 0]);
    expect(m.centredEnergy[s(1)]).toBe(0.25);
    expect(m.chance).toBe(0.25);
    expect(m.centrePointing).toBe(true);
  });

  it('accepts custom centred sizes', () => {
    const c = computeImageMetrics(map, [25, 25, 50, 50], { centredSizes: [0.5, 1] });
    expect(c.centredHits).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
    ]);
    expect(c.centredEnergy).toEqual([1, 0.25]);
  });

  it('centre pointing is false for an off-centre box', () => {
    expect(computeImageMetrics(map, [0, 0, 20, 20]).centrePointing).toBe(false);
  });
});

describe('computeImageMetrics: agrees with componentBoxes on a CAM-like map', () => {
  it('hit vectors match a flood fill per τ', () => {
    const rand = rng(11);
    const data = camLikeMap(rand, 48);
    // GT near the main blob (its τ = 0.5 box, shrunk), so the case has both hits and misses.
    const [bx, by, bw, bh] = componentBoxes(data, 48, 48, 0.5)[0].box;
    const gt: Box = [bx + 0.5, by + 0.5, bw - 1, bh - 1];
    const m: ImageMetrics = computeImageMetrics({ width: 48, height: 48, data }, gt);
    TAUS.forEach((t, ti) => {
      const comps = componentBoxes(data, 48, 48, t);
      const largest = comps.length > 0 ? iou(comps[0].box, gt) : 0;
      const best = Math.max(0, ...comps.map((c) => iou(c.box, gt)));
      DELTAS.forEach((d, di) => {
        expect(m.largestHits[di][ti]).toBe(largest >= d ? 1 : 0);
        expect(m.bestMatchHits[di][ti]).toBe(best >= d ? 1 : 0);
      });
    });
    // The case is not trivial: at δ = 0.5 there are both hits and misses.
    expect(m.largestHits[1].some((v) => v === 1)).toBe(true);
    expect(m.largestHits[1].some((v) => v === 0)).toBe(true);
  });
});

describe('computeImageMetrics: bad input', () => {
  it('rejects a heatmap whose data does not match its size', () => {
    expect(() =>
      computeImageMetrics({ width: 4, height: 4, data: new Float32Array(15) }, [0, 0, 1, 1]),
    ).toThrow(/15 values, expected 4×4/);
  });

  it('rejects NaN and negative values with their position', () => {
    const data = new Float32Array(4);
    data[3] = Number.NaN;
    expect(() => computeImageMetrics({ width: 2, height: 2, data }, [0, 0, 1, 1])).toThrow(/NaN at \(1, 1\)/);
    data[3] = -0.1;
    expect(() => computeImageMetrics({ width: 2, height: 2, data }, [0, 0, 1, 1])).toThrow(/not a finite/);
  });
});
