import sharp, { type Sharp } from 'sharp';
import { ImageError } from './image-error.js';
import { type SupportedFormat, sniffFormat } from './sniff-format.js';

/** 100 megapixels: far above any dataset photo, far below what would exhaust a worker's memory. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface OpenImageOptions {
  /** Names the input in error messages (URI, image id…). */
  label: string;
  /** Refuse images with more pixels than this (decompression-bomb guard). Default 100 megapixels. */
  maxPixels?: number;
  /**
   * Rotate/flip by the EXIF Orientation tag so width/height are the upright size. Default true.
   * Pass false when annotations refer to the stored pixel grid, ignoring EXIF (CUB-200's boxes do;
   * none of the CUB subset's images carries a non-identity orientation, so both give the same there).
   */
  applyExifOrientation?: boolean;
}

export interface OpenedImage {
  format: SupportedFormat;
  /** Size of the pixel grid a decode returns (upright when EXIF orientation is applied). */
  width: number;
  height: number;
  /** A fresh sharp pipeline over the input with the safety options set; each call decodes anew. */
  pipeline(): Sharp;
}

const FIX_REPLACE = 're-download or replace the file; retrying will not help';

/**
 * Validates the bytes and reads the header (no pixel decode): empty input, foreign formats and
 * oversized images are refused here with a clear ImageError before libvips allocates anything.
 */
export async function openImage(input: Uint8Array, opts: OpenImageOptions): Promise<OpenedImage> {
  const { label } = opts;
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isFinite(maxPixels) || maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive number, got ${maxPixels}`);
  }
  const autoOrient = opts.applyExifOrientation ?? true;
  if (input.length === 0) {
    throw new ImageError(
      'empty',
      label,
      'the file is empty (0 bytes)',
      `${FIX_REPLACE} (was the upload interrupted?)`,
    );
  }
  const sniffed = sniffFormat(input);
  if (sniffed.kind === 'other') {
    throw new ImageError(
      'unsupported',
      label,
      `is a ${sniffed.name} file; only JPEG, PNG and WebP are decoded`,
      'convert it to PNG or JPEG',
    );
  }
  if (sniffed.kind === 'unknown') {
    // The file's bytes are never quoted: an error message must not leak what an input contains.
    throw new ImageError(
      'corrupt',
      label,
      `is not a JPEG, PNG or WebP image (unrecognised format, ${input.length} bytes)`,
      `check that the URI points at an image; ${FIX_REPLACE}`,
    );
  }
  let width: number;
  let height: number;
  try {
    // Header only; the pixel limit is checked below so the message can state the real size.
    const meta = await sharp(input, { autoOrient, limitInputPixels: false }).metadata();
    width = autoOrient ? meta.autoOrient.width : meta.width;
    height = autoOrient ? meta.autoOrient.height : meta.height;
  } catch (err) {
    throw decodeFailure(err, label);
  }
  if (!(width > 0 && height > 0)) {
    throw new ImageError('corrupt', label, `its header declares a ${width}×${height} image`, FIX_REPLACE);
  }
  if (width * height > maxPixels) {
    throw tooLarge(label, `is ${width}×${height} pixels, over the limit of ${maxPixels} pixels`);
  }
  return {
    format: sniffed.format,
    width,
    height,
    // failOn 'error': truncated or undecodable data is refused; mere libjpeg warnings, which image
    // viewers and PIL accept, are tolerated so that they cost no result.
    pipeline: () => sharp(input, { autoOrient, failOn: 'error', limitInputPixels: Math.floor(maxPixels) }),
  };
}

function tooLarge(label: string, problem: string, cause?: unknown): ImageError {
  return new ImageError(
    'too-large',
    label,
    `${problem} (a guard against decompression bombs)`,
    'downscale the image, or raise maxPixels if such images are expected',
    cause === undefined ? undefined : { cause },
  );
}

/** Maps a libvips failure to an ImageError; the original error stays attached as `cause`. */
export function decodeFailure(err: unknown, label: string): ImageError {
  if (err instanceof ImageError) return err;
  const detail = (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
  if (/pixel limit/i.test(detail)) return tooLarge(label, `exceeds the pixel limit (${detail})`, err);
  const problem = `cannot be decoded, it is corrupt or truncated (${detail})`;
  return new ImageError('corrupt', label, problem, FIX_REPLACE, { cause: err });
}
