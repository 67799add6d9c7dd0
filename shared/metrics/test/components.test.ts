import { rng } from '@embedcam/test-support/random';
import { describe, expect, it } from 'vitest';
import type { Box } from '../src/index.js';
import { componentBoxes, iou, sweepThresholds, TAUS } from '../src/index.js';
import { camLikeMap, noisyMap, picture } from './maps.js';

describe('componentBoxes', () => {
  it('joins diagonal neighbours (8-connectivity)', () => {
    const m = picture(['#..', '.#.', '..#']);
    expect(componentBoxes(m.data, m.width, m.height, 0.5)).toEqual([{ box: [0, 0, 3, 3], size: 3 }]);
  });

  it('separates blobs with a gap and sorts them by size, largest first', () => {
    const m = picture(['#...##', '....##', '....##']);
    expect(componentBoxes(m.data, m.width, m.height, 0.5)).toEqual([
      { box: [4, 0, 2, 3], size: 6 },
      { box: [0, 0, 1, 1], size: 1 },
    ]);
  });

  it('breaks size ties by the first pixel in raster order', () => {
    const m = picture(['...#', '#...', '....', '..#.']);
    const boxes = componentBoxes(m.data, m.width, m.height, 1).map((c) => c.box);
    expect(boxes).toEqual([
      [3, 0, 1, 1],
      [0, 1, 1, 1],
      [2, 3, 1, 1],
    ]);
  });

  it('includes pixels equal to the threshold (value >= τ)', () => {
    const m = picture(['+#', '..']);
    expect(componentBoxes(m.data, m.width, m.height, 0.5)[0]).toEqual({ box: [0, 0, 2, 1], size: 2 });
    expect(componentBoxes(m.data, m.width, m.height, 0.51)[0]).toEqual({ box: [1, 0, 1, 1], size: 1 });
  });

  it('gives tight boxes in pixel units for components touching the right/bottom border', () => {
    const m = picture(['....', '...#', '..##']);
    expect(componentBoxes(m.data, m.width, m.height, 1)).toEqual([{ box: [2, 1, 2, 2], size: 3 }]);
  });

  it('returns [] when no pixel reaches the threshold', () => {
    const m = picture(['+.', '.+']);
    expect(componentBoxes(m.data, m.width, m.height, 0.6)).toEqual([]);
  });

  it('returns one image-sized component for an all-zero map at τ = 0 (the metrics treat it as a miss)', () => {
    expect(componentBoxes(new Float32Array(12), 4, 3, 0)).toEqual([{ box: [0, 0, 4, 3], size: 12 }]);
  });

  it('is iterative: a 1000×1000 component does not overflow the stack', () => {
    const comps = componentBoxes(new Float32Array(1_000_000).fill(1), 1000, 1000, 0.5);
    expect(comps).toEqual([{ box: [0, 0, 1000, 1000], size: 1_000_000 }]);
  });

  it('rejects a map of the wrong size', () => {
    expect(() => componentBoxes(new Float32Array(5), 2, 2, 0.5)).toThrow(/5 values, expected 2×2/);
  });
});

describe('sweepThresholds agrees with one flood fill per threshold', () => {
  const gts: Box[] = [
    [10, 12, 30, 25],
    [0, 0, 64, 48],
    [40.5, 3.25, 20, 40],
  ];
  const cases: Array<[string, (r: () => number) => Float32Array, number, number]> = [
    ['CAM-like (upsampled 7×7)', (r) => camLikeMap(r, 64), 64, 64],
    ['quantised noise (many components, ties)', (r) => noisyMap(r, 64, 48), 64, 48],
  ];
  for (const [name, make, w, h] of cases) {
    it(name, () => {
      const rand = rng(7);
      for (let trial = 0; trial < 3; trial++) {
        const map = make(rand);
        for (const gt of gts) {
          const sweep = sweepThresholds(map, w, h, TAUS, gt);
          const largest: number[] = [];
          const best: number[] = [];
          for (const t of TAUS) {
            const comps = componentBoxes(map, w, h, t);
            largest.push(comps.length > 0 ? iou(comps[0].box, gt) : 0);
            best.push(comps.reduce((m, c) => Math.max(m, iou(c.box, gt)), 0));
          }
          expect(Array.from(sweep.largestIou)).toEqual(largest);
          expect(Array.from(sweep.bestIou)).toEqual(best);
        }
      }
    });
  }

  it('rejects thresholds that are not strictly ascending', () => {
    expect(() => sweepThresholds(new Float32Array(4), 2, 2, [0.5, 0.5], [0, 0, 1, 1])).toThrow(/ascending/);
  });
});
