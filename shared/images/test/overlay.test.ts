import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  type DecodedImage,
  drawBoxOutline,
  GT_BOX_COLOR,
  jet,
  renderExplainOverlay,
  renderGrid,
  renderOverlay,
} from '../src/index.js';
import { expectImageError, pixel, solid } from './helpers.js';

const W = 40;
const H = 30;
const gray = (): DecodedImage => ({ width: W, height: H, data: new Uint8Array(W * H * 3).fill(128) });
const decodeRaw = async (buf: Buffer) => {
  const { data, info } = await sharp(buf).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3); // RGB out: no stray alpha channel
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
};
const blend = (v: number, a = 0.5) => jet(v).map((c) => Math.round((1 - a) * 128 + a * 255 * c));

describe('renderOverlay', () => {
  it('returns a PNG of the image size with the map blended and a 2 px box outline', async () => {
    const png = await renderOverlay(gray(), new Float32Array(12), 4, 3, {
      boxes: [{ box: [5, 5, 20, 10], color: [0, 255, 0] }],
    });
    const out = await decodeRaw(png);
    expect([out.width, out.height, out.channels]).toEqual([W, H, 3]);
    const green = [0, 255, 0];
    // Outline: columns 5,6 and 23,24; rows 5,6 and 13,14 (box spans x 5…24, y 5…14).
    for (const [x, y] of [
      [5, 5],
      [6, 10],
      [24, 10],
      [23, 14],
      [15, 5],
      [15, 6],
      [15, 13],
    ]) {
      expect(pixel(out.data, W, x, y), `(${x},${y})`).toEqual(green);
    }
    // Inside and outside the outline: the map blend, jet(0) over 128 gray.
    for (const [x, y] of [
      [7, 7],
      [22, 12],
      [25, 10],
      [4, 5],
      [15, 15],
      [0, 0],
    ]) {
      expect(pixel(out.data, W, x, y), `(${x},${y})`).toEqual(blend(0));
    }
  });

  it('upsamples the map to the image: cold left, hot right', async () => {
    const png = await renderOverlay(gray(), new Float32Array([0, 1]), 2, 1, { alpha: 0.8 });
    const out = await decodeRaw(png);
    expect(pixel(out.data, W, 0, 15)).toEqual(blend(0, 0.8));
    expect(pixel(out.data, W, W - 1, 15)).toEqual(blend(1, 0.8));
    const mid = pixel(out.data, W, 20, 15); // map ≈ 0.5 here: green dominates
    expect(mid[1]).toBeGreaterThan(mid[0]);
    expect(mid[1]).toBeGreaterThan(mid[2]);
  });

  it('decodes encoded input and can write JPEG', async () => {
    const jpg = await solid(33, 21, [128, 128, 128]).jpeg().toBuffer();
    const outJpg = await renderOverlay(jpg, new Float32Array(4), 2, 2, { format: 'jpeg', label: 'img 5' });
    const meta = await sharp(outJpg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 33, 21]);
    await expectImageError(
      renderOverlay(Buffer.alloc(0), new Float32Array(1), 1, 1, { label: 'img 6' }),
      'empty',
      'img 6',
    );
  });

  it('validates alpha and map size', async () => {
    await expect(renderOverlay(gray(), new Float32Array(3), 2, 2)).rejects.toThrow(RangeError);
    await expect(renderOverlay(gray(), new Float32Array(4), 2, 2, { alpha: 1.5 })).rejects.toThrow(
      RangeError,
    );
  });
});

describe('renderExplainOverlay', () => {
  it('writes a JPEG of the original size with the GT box outlined in green', async () => {
    const png = await solid(W, H, [128, 128, 128]).png().toBuffer();
    const heatmap = { data: new Float32Array(12), width: 4, height: 3 };
    // Box edges on even pixels, so JPEG's 2×2 chroma blocks keep the 2 px outline green.
    const jpg = await renderExplainOverlay(png, heatmap, { box: [4, 4, 20, 12], label: 'img 7' });
    expect((await sharp(jpg).metadata()).format).toBe('jpeg');
    const out = await decodeRaw(jpg);
    expect([out.width, out.height]).toEqual([W, H]);
    const isGreen = ([r, g, b]: number[]) => g > 200 && r < 80 && b < 80;
    expect(GT_BOX_COLOR).toEqual([0, 255, 0]);
    for (const [x, y] of [
      [4, 10],
      [22, 10],
      [14, 4],
      [14, 14],
    ]) {
      expect(isGreen(pixel(out.data, W, x, y)), `(${x},${y})`).toBe(true);
    }
    expect(isGreen(pixel(out.data, W, 14, 10))).toBe(false); // inside the box: the map blend
    const plain = await decodeRaw(await renderExplainOverlay(png, heatmap, { box: null }));
    expect(isGreen(pixel(plain.data, W, 4, 10))).toBe(false);
  });
});

describe('drawBoxOutline', () => {
  it('clips boxes that leave the image and ignores empty ones', () => {
    const img = new Uint8Array(10 * 10 * 3);
    drawBoxOutline(img, 10, 10, [-5, -5, 10, 10], [9, 9, 9]); // visible part: right/bottom edges at 3,4
    expect(pixel(img, 10, 4, 0)).toEqual([9, 9, 9]);
    expect(pixel(img, 10, 0, 3)).toEqual([9, 9, 9]);
    expect(pixel(img, 10, 2, 2)).toEqual([0, 0, 0]);
    expect(pixel(img, 10, 5, 5)).toEqual([0, 0, 0]);
    const before = Array.from(img);
    drawBoxOutline(img, 10, 10, [2, 2, 0, 5], [1, 1, 1]);
    drawBoxOutline(img, 10, 10, [Number.NaN, 2, 3, 5], [1, 1, 1]);
    expect(Array.from(img)).toEqual(before);
  });
});

describe('renderGrid', () => {
  it('lays tiles out row-major, letterboxed onto white', async () => {
    const red = await solid(40, 20, [255, 0, 0]).png().toBuffer();
    const blue = await solid(10, 10, [0, 0, 255]).png().toBuffer(); // square in a 2:1 tile
    const green = await solid(20, 10, [0, 255, 0]).jpeg().toBuffer();
    const grid = await renderGrid([red, blue, green], 2, 20, 10);
    const out = await decodeRaw(grid);
    expect([out.width, out.height]).toEqual([40, 20]);
    expect(pixel(out.data, 40, 10, 5)).toEqual([255, 0, 0]); // tile 0
    expect(pixel(out.data, 40, 30, 5)).toEqual([0, 0, 255]); // tile 1 centre
    expect(pixel(out.data, 40, 21, 5)).toEqual([255, 255, 255]); // tile 1 letterbox
    const g = pixel(out.data, 40, 10, 15); // tile 2 (JPEG, approximately green)
    expect(g[1]).toBeGreaterThan(240);
    expect(g[0] + g[2]).toBeLessThan(30);
    expect(pixel(out.data, 40, 30, 15)).toEqual([255, 255, 255]); // empty slot
  });

  it('supports gaps and names a broken tile', async () => {
    const t = await solid(4, 4, [0, 0, 0]).png().toBuffer();
    const meta = await sharp(await renderGrid([t, t, t], 3, 4, 4, { gap: 2 })).metadata();
    expect([meta.width, meta.height]).toEqual([16, 4]);
    await expectImageError(renderGrid([t, Buffer.from('nope')], 2, 4, 4), 'corrupt', 'grid tile 1');
    await expect(renderGrid([], 2, 4, 4)).rejects.toThrow(RangeError);
  });
});
