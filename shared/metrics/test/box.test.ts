import { describe, expect, it } from 'vitest';
import type { Box } from '../src/index.js';
import { BoxError, iou, scaleBox, validateBox } from '../src/index.js';

describe('iou', () => {
  it('is 1 for identical boxes', () => {
    expect(iou([3, 4, 10, 20], [3, 4, 10, 20])).toBe(1);
  });
  it('is 0 for disjoint boxes', () => {
    expect(iou([0, 0, 2, 2], [5, 5, 2, 2])).toBe(0);
  });
  it('is 0 for boxes that only touch (continuous intervals)', () => {
    expect(iou([0, 0, 2, 2], [2, 0, 2, 2])).toBe(0);
    expect(iou([0, 0, 2, 2], [2, 2, 2, 2])).toBe(0);
  });
  it('is the area ratio for a contained box', () => {
    expect(iou([0, 0, 10, 10], [2, 2, 5, 5])).toBe(0.25);
  });
  it('handles a partial overlap, symmetrically', () => {
    const a: Box = [0, 0, 2, 2];
    const b: Box = [1, 1, 2, 2];
    expect(iou(a, b)).toBeCloseTo(1 / 7, 15);
    expect(iou(b, a)).toBe(iou(a, b));
  });
  it('is 0, not NaN, for two empty boxes', () => {
    expect(iou([1, 1, 0, 0], [1, 1, 0, 0])).toBe(0);
  });
});

describe('scaleBox', () => {
  it('scales each axis by its own factor', () => {
    expect(scaleBox([10, 20, 30, 40], 200, 100, 100, 200)).toEqual([5, 40, 15, 80]);
  });
  it('rejects non-positive image sizes', () => {
    expect(() => scaleBox([0, 0, 1, 1], 0, 10, 10, 10)).toThrow(/fromW must be a positive number/);
  });
});

describe('validateBox', () => {
  it('returns a box inside the image unchanged, including one touching every border', () => {
    expect(validateBox([1, 2, 3, 4], 10, 10)).toEqual([1, 2, 3, 4]);
    expect(validateBox([0, 0, 10, 8], 10, 8)).toEqual([0, 0, 10, 8]);
  });

  it('clips an overshoot within the tolerance (1 px or a tenth of the side, as in CUB)', () => {
    expect(validateBox([-0.5, 0, 10, 10], 100, 100)).toEqual([0, 0, 9.5, 10]);
    expect(validateBox([90, 95, 10.8, 5.5], 100, 100)).toEqual([90, 95, 10, 5]);
    // CUB image 1218: right edge 532 on a 500 px wide image.
    expect(validateBox([92, 51, 440, 303], 500, 410)).toEqual([92, 51, 408, 303]);
  });

  it('throws BoxError naming the box and image for a box outside the image', () => {
    let err: unknown;
    try {
      validateBox([95, 10, 18, 10], 100, 50);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BoxError);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as BoxError).message;
    expect(msg).toContain('[95, 10, 18, 10]');
    expect(msg).toContain('100×50');
    expect(msg).toMatch(/not inside the image.*right edge 113 > image width 100/);
    expect((err as BoxError).imageWidth).toBe(100);
  });

  it('throws for a box above/left of the image beyond tolerance', () => {
    expect(() => validateBox([-2, 0, 5, 5], 10, 10)).toThrow(/left edge -2 < 0/);
    expect(() => validateBox([0, -1.5, 5, 5], 10, 10)).toThrow(/top edge -1.5 < 0/);
  });

  it('throws for non-finite values and non-positive sizes', () => {
    expect(() => validateBox([Number.NaN, 0, 5, 5], 10, 10)).toThrow(/must be finite/);
    expect(() => validateBox([0, 0, Number.POSITIVE_INFINITY, 5], 10, 10)).toThrow(BoxError);
    expect(() => validateBox([0, 0, 0, 5], 10, 10)).toThrow(/width and height must be positive/);
    expect(() => validateBox([0, 0, 5, -1], 10, 10)).toThrow(/width and height must be positive/);
  });

  it('throws for a sliver that lies entirely in the tolerance margin', () => {
    expect(() => validateBox([10.2, 0, 0.5, 5], 10, 10)).toThrow(/nothing of the box is left/);
  });
});
