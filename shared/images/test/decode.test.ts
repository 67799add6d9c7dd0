import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, readImageSize } from '../src/index.js';
import { decodeFailure } from '../src/open-image.js';
import { expectImageError, forgePngSize, fromRaw, noise, pixel, solid } from './helpers.js';

const near = (got: number[], want: number[], tol: number) => {
  expect(got.length).toBe(want.length);
  for (const [i, v] of got.entries()) {
    expect(Math.abs(v - want[i]), `channel ${i}: ${got} vs ${want}`).toBeLessThanOrEqual(tol);
  }
};

describe('decodeImage: formats and colour', () => {
  it('decodes a lossless PNG to exactly its RGB HWC pixels', async () => {
    const raw = noise(7 * 5 * 3, 42);
    const png = await fromRaw(raw, 7, 5, 3).png().toBuffer();
    const img = await decodeImage(png, { label: 'noise.png' });
    expect([img.width, img.height]).toEqual([7, 5]);
    expect(Array.from(img.data)).toEqual(Array.from(raw));
  });

  it('decodes an RGB JPEG', async () => {
    const jpg = await solid(16, 12, [200, 100, 50]).jpeg({ quality: 95 }).toBuffer();
    const img = await decodeImage(jpg, { label: 'rgb.jpg' });
    expect([img.width, img.height, img.data.length]).toEqual([16, 12, 16 * 12 * 3]);
    near(pixel(img.data, 16, 8, 6), [200, 100, 50], 3);
  });

  it('expands a grayscale JPEG to three equal channels', async () => {
    const jpg = await solid(10, 8, [90, 90, 90]).toColourspace('b-w').jpeg().toBuffer();
    expect((await sharp(jpg).metadata()).channels).toBe(1); // precondition: really 1-channel
    const img = await decodeImage(jpg, { label: 'gray.jpg' });
    expect(img.data.length).toBe(10 * 8 * 3);
    const [r, g, b] = pixel(img.data, 10, 3, 3);
    expect(r).toBe(g);
    expect(g).toBe(b);
    expect(Math.abs(r - 90)).toBeLessThanOrEqual(2);
  });

  it('flattens alpha onto white', async () => {
    // Red at alpha 0, 128 and 255.
    const rgba = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 128, 255, 0, 0, 255]);
    const png = await fromRaw(rgba, 3, 1, 4).png().toBuffer();
    expect((await sharp(png).metadata()).hasAlpha).toBe(true);
    const img = await decodeImage(png, { label: 'alpha.png' });
    expect(img.data.length).toBe(9);
    expect(pixel(img.data, 3, 0, 0)).toEqual([255, 255, 255]);
    near(pixel(img.data, 3, 1, 0), [255, 127, 127], 1);
    expect(pixel(img.data, 3, 2, 0)).toEqual([255, 0, 0]);
  });

  it('handles grayscale+alpha and 16-bit PNGs', async () => {
    const ga = await fromRaw(new Uint8Array([50, 255, 50, 0]), 2, 1, 2)
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await sharp(ga).metadata()).channels).toBe(2);
    const a = await decodeImage(ga, { label: 'ga.png' });
    expect(Array.from(a.data)).toEqual([50, 50, 50, 255, 255, 255]);

    const p16 = await solid(4, 4, [10, 200, 30]).toColourspace('rgb16').png().toBuffer();
    expect((await sharp(p16).metadata()).depth).toBe('ushort');
    const b = await decodeImage(p16, { label: '16bit.png' });
    expect(pixel(b.data, 4, 2, 2)).toEqual([10, 200, 30]);
  });

  it('decodes WebP', async () => {
    const raw = noise(6 * 4 * 3, 7);
    const webp = await fromRaw(raw, 6, 4, 3).webp({ lossless: true }).toBuffer();
    const img = await decodeImage(webp, { label: 'x.webp' });
    expect(Array.from(img.data)).toEqual(Array.from(raw));
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const jpg = await solid(8, 8, [200, 30, 40]).toColourspace('cmyk').jpeg().toBuffer();
    const meta = await sharp(jpg).metadata();
    expect([meta.space, meta.channels]).toEqual(['cmyk', 4]);
    const img = await decodeImage(jpg, { label: 'cmyk.jpg' });
    expect(img.data.length).toBe(8 * 8 * 3);
    // Profile round trips are lossy; an unconverted or naively inverted CMYK would not be red.
    const [r, g, b] = pixel(img.data, 8, 4, 4);
    expect(r).toBeGreaterThan(170);
    expect(g).toBeLessThan(70);
    expect(b).toBeLessThan(70);
  });
});

describe('decodeImage: EXIF orientation', () => {
  // Stored 32×24 with the top 8 rows red. Orientation 6 = "rotate 90° clockwise to display",
  // so upright it is 24×32 with the rightmost 8 columns red.
  const stored = async () => {
    const raw = new Uint8Array(32 * 24 * 3);
    for (let p = 0; p < 32 * 24; p++) raw.set(p < 32 * 8 ? [255, 0, 0] : [0, 0, 255], p * 3);
    const jpg = await fromRaw(raw, 32, 24, 3)
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpg).metadata()).orientation).toBe(6);
    return jpg;
  };

  it('applies orientation by default: upright size and pixels', async () => {
    const img = await decodeImage(await stored(), { label: 'rot.jpg' });
    expect([img.width, img.height]).toEqual([24, 32]);
    near(pixel(img.data, 24, 21, 16), [255, 0, 0], 40);
    near(pixel(img.data, 24, 4, 16), [0, 0, 255], 40);
    expect(await readImageSize(await stored(), 'rot.jpg')).toEqual({ width: 24, height: 32 });
  });

  it('keeps the stored grid with applyExifOrientation: false', async () => {
    const img = await decodeImage(await stored(), { label: 'rot.jpg', applyExifOrientation: false });
    expect([img.width, img.height]).toEqual([32, 24]);
    near(pixel(img.data, 32, 16, 2), [255, 0, 0], 40);
    near(pixel(img.data, 32, 16, 20), [0, 0, 255], 40);
    expect(await readImageSize(await stored(), 'rot.jpg', { applyExifOrientation: false })).toEqual({
      width: 32,
      height: 24,
    });
  });
});

describe('decodeImage: bad input fails permanently with a clear error', () => {
  const bigJpeg = () =>
    fromRaw(noise(64 * 48 * 3), 64, 48, 3)
      .jpeg()
      .toBuffer();

  it('truncated JPEG → corrupt', async () => {
    const jpg = await bigJpeg();
    await decodeImage(jpg, { label: 'ok.jpg' }); // the full file is fine
    const err = await expectImageError(
      decodeImage(jpg.subarray(0, jpg.length >> 1), { label: 's3://b/trunc.jpg' }),
      'corrupt',
      's3://b/trunc.jpg',
    );
    expect(err.problem).toMatch(/corrupt or truncated/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('truncated PNG → corrupt', async () => {
    const png = await fromRaw(noise(64 * 48 * 3), 64, 48, 3)
      .png()
      .toBuffer();
    await expectImageError(decodeImage(png.subarray(0, png.length - 200), { label: 'p' }), 'corrupt', 'p');
  });

  it("random bytes → corrupt, never quoting the file's bytes", async () => {
    const bytes = noise(1000, 3);
    const err = await expectImageError(decodeImage(bytes, { label: 'img 17' }), 'corrupt', 'img 17');
    expect(err.problem).toContain('not a JPEG, PNG or WebP image');
    expect(err.message).not.toContain(Buffer.from(bytes.subarray(0, 4)).toString('hex'));
  });

  it('JPEG magic followed by garbage → corrupt', async () => {
    const bytes = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from(noise(500, 9))]);
    await expectImageError(decodeImage(bytes, { label: 'fake.jpg' }), 'corrupt', 'fake.jpg');
  });

  it('GIF → unsupported', async () => {
    const gif = await solid(4, 4, [1, 2, 3]).gif().toBuffer();
    const err = await expectImageError(decodeImage(gif, { label: 'a.gif' }), 'unsupported', 'a.gif');
    expect(err.problem).toContain('GIF');
  });

  it('empty buffer → empty', async () => {
    await expectImageError(decodeImage(new Uint8Array(0), { label: 'e' }), 'empty', 'e');
    await expectImageError(readImageSize(Buffer.alloc(0), 'e'), 'empty', 'e');
  });

  it('decompression bomb → too-large (maxPixels)', async () => {
    const png = await solid(4000, 4000, [255, 0, 0]).png({ compressionLevel: 9 }).toBuffer();
    expect(png.length).toBeLessThan(200_000); // 16 megapixels in a few kB: a bomb in miniature
    const err = await expectImageError(
      decodeImage(png, { label: 'bomb.png', maxPixels: 1_000_000 }),
      'too-large',
      'bomb.png',
    );
    expect(err.problem).toContain('4000×4000');
    // Under the limit it decodes.
    expect((await decodeImage(png, { label: 'bomb.png', maxPixels: 16_000_000 })).width).toBe(4000);
  });

  it('forged 50000×50000 header → too-large under the default limit, before any allocation', async () => {
    const png = forgePngSize(await solid(2, 2, [0, 0, 0]).png().toBuffer(), 50_000, 50_000);
    expect((await sharp(png, { limitInputPixels: false }).metadata()).width).toBe(50_000);
    await expectImageError(decodeImage(png, { label: 'forged.png' }), 'too-large', 'forged.png');
  });

  it('maps a libvips pixel-limit failure to too-large and anything else to corrupt', () => {
    expect(decodeFailure(new Error('Input image exceeds pixel limit'), 'x').code).toBe('too-large');
    expect(decodeFailure(new Error('VipsJpeg: premature end of JPEG image'), 'x').code).toBe('corrupt');
  });

  it('rejects a nonsensical maxPixels as a programming error', async () => {
    const png = await solid(2, 2, [0, 0, 0]).png().toBuffer();
    await expect(decodeImage(png, { label: 'x', maxPixels: 0 })).rejects.toBeInstanceOf(RangeError);
  });
});

describe('readImageSize', () => {
  it('reads the size from the header only', async () => {
    const jpg = await fromRaw(noise(64 * 48 * 3), 64, 48, 3)
      .jpeg()
      .toBuffer();
    expect(await readImageSize(jpg, 'a')).toEqual({ width: 64, height: 48 });
    // Documented: header-only, so truncated pixel data is not noticed here.
    expect(await readImageSize(jpg.subarray(0, jpg.length >> 1), 'a')).toEqual({ width: 64, height: 48 });
  });

  it('fails on foreign bytes like decodeImage does', async () => {
    await expectImageError(readImageSize(noise(64), 'r'), 'corrupt', 'r');
  });
});
