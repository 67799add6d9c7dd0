import sharp from 'sharp';
import { JET_LUT } from './colormap.js';
import { type DecodedImage, decodeImage } from './decode.js';
import { type Box, drawBoxOutline, type Rgb } from './draw-box.js';
import { resizeBilinear } from './resize-bilinear.js';

export interface OverlayOptions {
  /** Weight of the colour map in the blend, 0..1. Default 0.5. */
  alpha?: number;
  /** Outlines drawn on top, in image pixel coordinates, e.g. ground truth green, predicted red. */
  boxes?: Array<{ box: Box; color: Rgb }>;
  /** Outline thickness in pixels. Default 2. */
  boxThickness?: number;
  /** Default 'png'. JPEG (quality 90) is much smaller for photo-like overlays in reports. */
  format?: 'png' | 'jpeg';
  /** Names the image in errors when `image` is encoded bytes. */
  label?: string;
  /** When `image` is encoded bytes: see OpenImageOptions. Default true. */
  applyExifOrientation?: boolean;
}

/**
 * Heatmap-on-image figure: the map (values in [0,1], mapW×mapH, row-major) is resized bilinearly to
 * the image size, coloured with jet and blended as (1−alpha)·image + alpha·jet(map); then boxes are
 * outlined. Returns the encoded image, the same size as the (decoded) input image.
 */
export async function renderOverlay(
  image: Buffer | Uint8Array | DecodedImage,
  map: Float32Array,
  mapW: number,
  mapH: number,
  opts: OverlayOptions = {},
): Promise<Buffer> {
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new RangeError(`renderOverlay: alpha must be in [0,1], got ${alpha}`);
  }
  if (map.length !== mapW * mapH) {
    throw new RangeError(`renderOverlay: map has ${map.length} values, expected ${mapW}×${mapH}`);
  }
  const img =
    image instanceof Uint8Array
      ? await decodeImage(image, {
          label: opts.label ?? 'overlay image',
          applyExifOrientation: opts.applyExifOrientation,
        })
      : image;
  const { width, height } = img;
  if (img.data.length !== width * height * 3) {
    throw new RangeError(
      `renderOverlay: image data has ${img.data.length} values, expected ${width}×${height}×3`,
    );
  }
  const up = mapW === width && mapH === height ? map : resizeBilinear(map, mapW, mapH, 1, width, height);
  const out = new Uint8Array(width * height * 3);
  const keep = 1 - alpha;
  for (let p = 0; p < up.length; p++) {
    const v = up[p];
    const li = (v > 0 ? Math.min(255, Math.floor(v * 256)) : 0) * 3; // jetIndex, inlined
    for (let c = 0; c < 3; c++) {
      out[p * 3 + c] = Math.round(keep * img.data[p * 3 + c] + alpha * 255 * JET_LUT[li + c]);
    }
  }
  for (const { box, color } of opts.boxes ?? []) {
    drawBoxOutline(out, width, height, box, color, opts.boxThickness ?? 2);
  }
  const pipeline = sharp(out, { raw: { width, height, channels: 3 } });
  return opts.format === 'jpeg' ? pipeline.jpeg({ quality: 90 }).toBuffer() : pipeline.png().toBuffer();
}

/** Colour of the ground-truth box on explain overlays. */
export const GT_BOX_COLOR: Rgb = [0, 255, 0];

/**
 * The overlay `embedcam explain` and the pipeline write for an explained image: the heatmap (values
 * in [0,1]) over the original file, the ground-truth box (if any) outlined in GT_BOX_COLOR, as JPEG.
 * One function so the local run and the compute threads draw the same figure.
 */
export function renderExplainOverlay(
  bytes: Uint8Array,
  heatmap: { data: Float32Array; width: number; height: number },
  opts: { box?: Box | null; label?: string } = {},
): Promise<Buffer> {
  return renderOverlay(bytes, heatmap.data, heatmap.width, heatmap.height, {
    boxes: opts.box ? [{ box: opts.box, color: GT_BOX_COLOR }] : [],
    format: 'jpeg',
    label: opts.label,
  });
}
