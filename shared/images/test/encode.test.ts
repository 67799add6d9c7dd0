import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeHeatmapPng, encodeHeatmapPng, jet, jetIndex } from '../src/index.js';
import { expectImageError, noise } from './helpers.js';

describe('heatmap PNG', () => {
  it('round-trips within 1/255 (in fact within half a level)', async () => {
    const w = 17;
    const h = 9;
    const map = Float32Array.from(noise(w * h, 4), (b, i) => ((b * 257 + i) % 1000) / 999);
    const png = await encodeHeatmapPng(map, w, h);
    const back = await decodeHeatmapPng(png);
    expect([back.width, back.height, back.data.length]).toEqual([w, h, w * h]);
    let worst = 0;
    for (let i = 0; i < map.length; i++) worst = Math.max(worst, Math.abs(back.data[i] - map[i]));
    expect(worst).toBeLessThanOrEqual(0.5 / 255 + 1e-6);
  });

  it('is a one-channel 8-bit grayscale PNG', async () => {
    const meta = await sharp(await encodeHeatmapPng(new Float32Array([0, 0.5, 1, 0.25]), 2, 2)).metadata();
    expect([meta.format, meta.channels, meta.space, meta.depth]).toEqual(['png', 1, 'b-w', 'uchar']);
  });

  it('stores round(v·255), clamping out-of-range values and NaN', async () => {
    const png = await encodeHeatmapPng(new Float32Array([-0.5, 1.7, Number.NaN, 0.5, 0.2, 1]), 3, 2);
    const raw = await sharp(png).extractChannel(0).raw().toBuffer();
    expect(Array.from(raw)).toEqual([0, 255, 0, 128, 51, 255]);
  });

  it('rejects a map whose length does not match', async () => {
    await expect(encodeHeatmapPng(new Float32Array(5), 2, 2)).rejects.toThrow(/expected 2×2/);
  });

  it('decodeHeatmapPng fails on garbage with an ImageError naming the input', async () => {
    await expectImageError(
      decodeHeatmapPng(noise(100), 'runs/r1/heatmaps/7.png'),
      'corrupt',
      'runs/r1/heatmaps/7.png',
    );
  });

  it('decodeHeatmapPng reduces a colour PNG to one channel', async () => {
    const rgb = await sharp(new Uint8Array([200, 200, 200, 0, 0, 0]), {
      raw: { width: 2, height: 1, channels: 3 },
    })
      .png()
      .toBuffer();
    const back = await decodeHeatmapPng(rgb);
    expect(back.data.length).toBe(2);
    expect(back.data[0]).toBeCloseTo(200 / 255, 2);
    expect(back.data[1]).toBe(0);
  });
});

describe('jet colormap (matplotlib)', () => {
  const close = (got: number[], want: number[]) => {
    for (const [i, w] of want.entries()) expect(got[i], `channel ${i}`).toBeCloseTo(w, 6);
  };

  it('matches matplotlib.cm.jet at reference points', () => {
    close(jet(0), [0, 0, 0.5]);
    close(jet(0.25), [0, 0.503921568627451, 1]);
    close(jet(0.5), [0.49019607843137253, 1, 0.4775458570524984]);
    close(jet(0.75), [1, 0.5816993464052289, 0]);
    close(jet(1), [0.5, 0, 0]);
  });

  it('quantises like matplotlib (256 levels) and clamps', () => {
    expect(jetIndex(0.5)).toBe(128);
    expect(jetIndex(0.999)).toBe(255);
    expect(jetIndex(1)).toBe(255);
    expect(jetIndex(-3)).toBe(0);
    expect(jetIndex(Number.NaN)).toBe(0);
    expect(jet(2)).toEqual(jet(1));
  });
});
