import { decodeFailure, type OpenImageOptions, openImage } from './open-image.js';

/** 8-bit sRGB pixels, row-major, interleaved R,G,B (HWC); data.length === width * height * 3. */
export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type DecodeOptions = OpenImageOptions;

export interface ImageSize {
  width: number;
  height: number;
}

const WHITE = { r: 255, g: 255, b: 255 };

/**
 * Decodes JPEG/PNG/WebP bytes to 8-bit RGB.
 * - Grayscale is expanded to RGB; CMYK and other colour spaces are converted to sRGB (using the
 *   embedded ICC profile where present); 16-bit input is reduced to 8 bits.
 * - Transparency is flattened onto white: models never see alpha, and white matches what a
 *   browser or image viewer shows, so heatmaps line up with what a person sees.
 * - EXIF orientation is applied unless `applyExifOrientation: false` (see OpenImageOptions).
 * - Animated WebP: the first frame.
 * Throws ImageError ('empty' | 'unsupported' | 'corrupt' | 'too-large'); never a raw libvips error.
 * Decoding runs on libuv's thread pool, so the event loop stays free.
 */
export async function decodeImage(input: Buffer | Uint8Array, opts: DecodeOptions): Promise<DecodedImage> {
  const img = await openImage(input, opts);
  let out: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    out = await img
      .pipeline()
      .flatten({ background: WHITE })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw decodeFailure(err, opts.label);
  }
  const { data, info } = out;
  if (info.channels !== 3 || info.width !== img.width || info.height !== img.height) {
    // Would be a bug in this module or libvips, not in the input: do not blame the image.
    throw new Error(
      `decodeImage(${opts.label}): expected ${img.width}×${img.height}×3, libvips gave ${info.width}×${info.height}×${info.channels}`,
    );
  }
  return {
    width: info.width,
    height: info.height,
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}

/**
 * Image size from the header alone (no pixel decode, so truncated pixel data goes unnoticed and
 * maxPixels is not enforced). Honours `applyExifOrientation` exactly as decodeImage does, so the
 * size equals what decodeImage would return.
 */
export async function readImageSize(
  input: Buffer | Uint8Array,
  label: string,
  opts: { applyExifOrientation?: boolean } = {},
): Promise<ImageSize> {
  const img = await openImage(input, { label, maxPixels: Number.MAX_SAFE_INTEGER, ...opts });
  return { width: img.width, height: img.height };
}
