import sharp from 'sharp';
import { decodeFailure, openImage } from './open-image.js';

export interface HeatmapImage {
  width: number;
  height: number;
  /** Row-major values in [0,1], quantised to multiples of 1/255. */
  data: Float32Array;
}

function checkMap(map: Float32Array, width: number, height: number, fn: string): void {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(`${fn}: width and height must be positive integers, got ${width}×${height}`);
  }
  if (map.length !== width * height) {
    throw new RangeError(
      `${fn}: map has ${map.length} values, expected ${width}×${height} = ${width * height}`,
    );
  }
}

/** round(v·255) clamped to 0..255; NaN → 0 (an undefined heatmap value stores as "no attention"). */
export function quantiseUnit(v: number): number {
  if (!(v > 0)) return 0;
  return v >= 1 ? 255 : Math.round(v * 255);
}

/**
 * Stores a [0,1] heatmap as an 8-bit grayscale PNG (one channel): lossless at 1/255 resolution,
 * viewable in any browser, a quarter of float32 before compression. Values outside [0,1] clamp.
 */
export async function encodeHeatmapPng(map: Float32Array, width: number, height: number): Promise<Buffer> {
  checkMap(map, width, height, 'encodeHeatmapPng');
  const bytes = new Uint8Array(map.length);
  for (let i = 0; i < map.length; i++) bytes[i] = quantiseUnit(map[i]);
  // Without the explicit 'b-w', libvips writes a single raw band as an RGB PNG.
  return sharp(bytes, { raw: { width, height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/**
 * Reads a heatmap PNG back to floats (value/255). Colour PNGs are reduced to luminance, alpha is
 * ignored. Errors are ImageErrors naming `label`.
 */
export async function decodeHeatmapPng(
  buf: Buffer | Uint8Array,
  label = 'heatmap PNG',
): Promise<HeatmapImage> {
  const img = await openImage(buf, { label, applyExifOrientation: false });
  let raw: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    raw = await img
      .pipeline()
      .removeAlpha()
      .toColourspace('b-w')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decodeFailure(err, label);
  }
  const { data, info } = raw;
  if (info.channels !== 1) {
    throw new Error(`decodeHeatmapPng(${label}): expected 1 channel, got ${info.channels}`);
  }
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] / 255;
  return { width: info.width, height: info.height, data: out };
}
