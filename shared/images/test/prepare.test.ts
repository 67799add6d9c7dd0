import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, prepareForModel, resizeBilinear } from '../src/index.js';
import { expectImageError, fromRaw, noise, solid } from './helpers.js';

describe('prepareForModel', () => {
  it('stretches to exactly width×height and reports the original size', async () => {
    const jpg = await fromRaw(noise(300 * 200 * 3), 300, 200, 3)
      .jpeg()
      .toBuffer();
    const p = await prepareForModel(jpg, { width: 64, height: 32, label: 'a.jpg' });
    expect(p.original).toEqual({ width: 300, height: 200 });
    expect([p.width, p.height, p.pixels.length]).toEqual([64, 32, 64 * 32 * 3]);
  });

  it.each(['bilinear', 'bilinear-antialias'] as const)('keeps a solid colour solid (%s)', async (filter) => {
    const png = await solid(300, 200, [10, 20, 250]).png().toBuffer();
    const p = await prepareForModel(png, { width: 224, height: 224, label: 's.png', filter });
    const wrong: number[] = [];
    for (let i = 0; i < p.pixels.length; i += 3) {
      if (p.pixels[i] !== 10 || p.pixels[i + 1] !== 20 || p.pixels[i + 2] !== 250) wrong.push(i / 3);
    }
    expect(wrong).toEqual([]);
  });

  it('equals the decoded pixels when the size already matches', async () => {
    const raw = noise(8 * 6 * 3, 5);
    const png = await fromRaw(raw, 8, 6, 3).png().toBuffer();
    const p = await prepareForModel(png, { width: 8, height: 6, label: 'x' });
    expect(Array.from(p.pixels)).toEqual(Array.from(raw));
  });

  it('resamples with plain bilinear by default (rounded to 8 bits)', async () => {
    const raw = noise(9 * 7 * 3, 11);
    const png = await fromRaw(raw, 9, 7, 3).png().toBuffer();
    const p = await prepareForModel(png, { width: 4, height: 3, label: 'x' });
    const ref = resizeBilinear(raw, 9, 7, 3, 4, 3, 'bilinear');
    expect(Array.from(p.pixels)).toEqual(Array.from(ref, Math.round));
    const aa = await prepareForModel(png, { width: 4, height: 3, label: 'x', filter: 'bilinear-antialias' });
    expect(Array.from(aa.pixels)).not.toEqual(Array.from(p.pixels));
  });

  it('reports the upright original size for EXIF-rotated input', async () => {
    const jpg = await solid(40, 20, [0, 0, 0]).jpeg().withMetadata({ orientation: 8 }).toBuffer();
    expect((await prepareForModel(jpg, { width: 8, height: 8, label: 'r' })).original).toEqual({
      width: 20,
      height: 40,
    });
    const stored = await prepareForModel(jpg, {
      width: 8,
      height: 8,
      label: 'r',
      applyExifOrientation: false,
    });
    expect(stored.original).toEqual({ width: 40, height: 20 });
  });

  it('passes decode errors through and rejects a bad target size', async () => {
    await expectImageError(
      prepareForModel(Buffer.alloc(0), { width: 8, height: 8, label: 'e' }),
      'empty',
      'e',
    );
    const png = await solid(4, 4, [0, 0, 0]).png().toBuffer();
    await expect(prepareForModel(png, { width: 0, height: 8, label: 'x' })).rejects.toBeInstanceOf(
      RangeError,
    );
    await expect(prepareForModel(png, { width: 2.5, height: 8, label: 'x' })).rejects.toBeInstanceOf(
      RangeError,
    );
  });
});

describe('resizeBilinear', () => {
  const src = [0, 10, 20, 30]; // 2×2, one channel

  it('enlarges 2×2 → 4×4 with half-pixel centres and clamped edges', () => {
    const out = Array.from(resizeBilinear(src, 2, 2, 1, 4, 4));
    // Sample positions along each axis: -0.25→0, 0.25, 0.75, 1.25→1.
    expect(out).toEqual([0, 2.5, 7.5, 10, 5, 7.5, 12.5, 15, 15, 17.5, 22.5, 25, 20, 22.5, 27.5, 30]);
  });

  it('shrinks 4 → 2 by averaging pairs (plain) or with a widened triangle (antialias)', () => {
    const row = [0, 10, 20, 30];
    expect(Array.from(resizeBilinear(row, 4, 1, 1, 2, 1))).toEqual([5, 25]);
    // PIL BILINEAR: centre 1 reads samples 0,1,2 with weights .75,.75,.25 (normalised by 1.75).
    const aa = Array.from(resizeBilinear(row, 4, 1, 1, 2, 1, 'bilinear-antialias'));
    expect(aa[0]).toBeCloseTo(12.5 / 1.75, 5);
    expect(aa[1]).toBeCloseTo(40 / 1.75, 5);
  });

  it('keeps channels separate and antialias equals plain when enlarging', () => {
    const rgb = Array.from(noise(5 * 4 * 3, 2));
    const plain = resizeBilinear(rgb, 5, 4, 3, 13, 9);
    const aa = resizeBilinear(rgb, 5, 4, 3, 13, 9, 'bilinear-antialias');
    for (let i = 0; i < plain.length; i++) expect(aa[i]).toBeCloseTo(plain[i], 3);
    // Corner pixels are copied exactly (clamped sampling), per channel.
    expect(Array.from(plain.subarray(0, 3))).toEqual(rgb.slice(0, 3));
    expect(Array.from(plain.subarray(plain.length - 3))).toEqual(rgb.slice(rgb.length - 3));
  });

  it('validates its arguments', () => {
    expect(() => resizeBilinear(src, 2, 2, 1, 0, 4)).toThrow(RangeError);
    expect(() => resizeBilinear(src, 3, 2, 1, 4, 4)).toThrow(/expected 3×2×1/);
  });
});

describe('decode + prepare on a large photo-like image', () => {
  it('is consistent with decodeImage', async () => {
    const jpg = await fromRaw(noise(120 * 90 * 3, 8), 120, 90, 3)
      .jpeg()
      .toBuffer();
    const d = await decodeImage(jpg, { label: 'j' });
    const p = await prepareForModel(jpg, { width: 30, height: 20, label: 'j' });
    const ref = resizeBilinear(d.data, d.width, d.height, 3, 30, 20);
    expect(Array.from(p.pixels)).toEqual(Array.from(ref, Math.round));
    expect((await sharp(jpg).metadata()).width).toBe(p.original.width);
  });
});
