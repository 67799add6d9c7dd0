import { describe, expect, it } from 'vitest';
import { normalizeMinMax, upsampleBilinear, upsampleNormalized } from '../src/index.js';

const f32 = (xs: number[]) => Float32Array.from(xs);

describe('upsampleBilinear (half-pixel centres)', () => {
  it('keeps a constant map constant', () => {
    const out = upsampleBilinear(new Float32Array(9).fill(0.7), 3, 3, 7, 5);
    expect(out.length).toBe(35);
    expect(Array.from(out).every((v) => v === Math.fround(0.7))).toBe(true);
  });

  it('2×2 → 4×4 gives the half-pixel formula values (OpenCV INTER_LINEAR / TF halfPixelCenters)', () => {
    // Source samples at (d + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25, clamped to [0, 1].
    const out = upsampleBilinear(f32([0, 1, 2, 3]), 2, 2, 4, 4);
    expect(Array.from(out)).toEqual([
      0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
    ]);
  });

  it('replicates edge pixels (corners equal the source corners)', () => {
    const out = upsampleBilinear(f32([0, 3, 6]), 3, 1, 6, 1);
    expect(Array.from(out)).toEqual([0, 0.75, 2.25, 3.75, 5.25, 6]);
  });

  it('shrinks like OpenCV INTER_LINEAR (no antialiasing)', () => {
    expect(Array.from(upsampleBilinear(f32([0, 1, 2, 3]), 4, 1, 2, 1))).toEqual([0.5, 2.5]);
  });

  it('is the identity at the same size', () => {
    const src = f32([0.1, 0.9, 0.3, 0.4, 0.5, 0.6]);
    expect(Array.from(upsampleBilinear(src, 3, 2, 3, 2))).toEqual(Array.from(src));
  });

  it('rejects a source of the wrong length and non-positive sizes', () => {
    expect(() => upsampleBilinear(new Float32Array(5), 2, 2, 4, 4)).toThrow(/5 values, expected 2×2/);
    expect(() => upsampleBilinear(new Float32Array(4), 2, 2, 0, 4)).toThrow(RangeError);
  });
});

describe('normalizeMinMax', () => {
  it('maps min to 0 and max to 1', () => {
    const { map, allZero } = normalizeMinMax(f32([2, 4, 6]));
    expect(Array.from(map)).toEqual([0, 0.5, 1]);
    expect(allZero).toBe(false);
  });

  it('handles negative values', () => {
    expect(Array.from(normalizeMinMax(f32([-1, 0, 1])).map)).toEqual([0, 0.5, 1]);
  });

  it('leaves an all-zero map all zero, flagged, without NaN', () => {
    const { map, allZero } = normalizeMinMax(new Float32Array(16));
    expect(allZero).toBe(true);
    expect(Array.from(map)).toEqual(new Array(16).fill(0));
  });

  it('turns a constant non-zero map into zeros (no signal)', () => {
    const { map, allZero } = normalizeMinMax(new Float32Array(4).fill(5));
    expect(allZero).toBe(true);
    expect(Array.from(map)).toEqual([0, 0, 0, 0]);
  });

  it('does not modify its input', () => {
    const src = f32([2, 4]);
    normalizeMinMax(src);
    expect(Array.from(src)).toEqual([2, 4]);
  });

  it('throws on non-finite values instead of hiding them', () => {
    expect(() => normalizeMinMax(f32([0, Number.NaN]))).toThrow(/non-finite value NaN at index 1/);
    expect(() => normalizeMinMax(f32([Number.POSITIVE_INFINITY]))).toThrow(RangeError);
  });
});

describe('upsampleNormalized', () => {
  it('equals normalizeMinMax(upsampleBilinear(…)) bit for bit, and flags zero maps', () => {
    const raw = Float32Array.from({ length: 49 }, (_, i) => Math.max(0, Math.sin(i * 1.3)) * 0.01);
    const a = normalizeMinMax(upsampleBilinear(raw, 7, 7, 224, 224));
    const b = upsampleNormalized(raw, 7, 7, 224, 224);
    expect(b.allZero).toBe(false);
    expect(Buffer.from(b.map.buffer).equals(Buffer.from(a.map.buffer))).toBe(true);
    const zero = upsampleNormalized(new Float32Array(49), 7, 7, 20, 20);
    expect(zero.allZero).toBe(true);
    expect(zero.map.every((v) => v === 0)).toBe(true);
  });
});
