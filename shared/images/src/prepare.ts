import { decodeImage } from './decode.js';
import type { OpenImageOptions } from './open-image.js';
import { type ResizeFilter, resizeBilinear } from './resize-bilinear.js';

export interface PrepareOptions extends OpenImageOptions {
  /** Model input size. */
  width: number;
  height: number;
  /** Default 'bilinear' (plain, as Keras/TF preprocess); see ResizeFilter. */
  filter?: ResizeFilter;
}

export interface PreparedImage {
  /** Decoded size before resizing (upright unless applyExifOrientation is false): boxes live here. */
  original: { width: number; height: number };
  width: number;
  height: number;
  /** 8-bit RGB, HWC, width*height*3 values. Float normalisation is the model spec's job. */
  pixels: Uint8Array;
}

/**
 * Decodes once (same rules and errors as decodeImage) and stretches to exactly width×height: no
 * crop and no letterbox, so a box [x,y,w,h] maps to the model grid by scaling x,w by
 * width/original.width and y,h by height/original.height. Resampled values are rounded to 8 bits.
 */
export async function prepareForModel(
  input: Buffer | Uint8Array,
  opts: PrepareOptions,
): Promise<PreparedImage> {
  const { width, height } = opts;
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(
      `prepareForModel: width and height must be positive integers, got ${width}×${height}`,
    );
  }
  const img = await decodeImage(input, opts);
  const original = { width: img.width, height: img.height };
  if (img.width === width && img.height === height) return { original, width, height, pixels: img.data };
  const resized = resizeBilinear(
    img.data,
    img.width,
    img.height,
    3,
    width,
    height,
    opts.filter ?? 'bilinear',
  );
  const pixels = new Uint8Array(resized.length);
  // Weights are convex, so values stay in 0..255; Uint8Array would truncate, so round explicitly.
  for (let i = 0; i < resized.length; i++) pixels[i] = Math.round(resized[i]);
  return { original, width, height, pixels };
}
