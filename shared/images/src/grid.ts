import sharp from 'sharp';
import { decodeImage } from './decode.js';
import type { Rgb } from './draw-box.js';

export interface GridOptions {
  /** Canvas and letterbox colour. Default white. */
  background?: Rgb;
  /** Pixels between tiles (and none around the edge). Default 0. */
  gap?: number;
}

/**
 * PNG mosaic of encoded images (e.g. overlays of the best/worst images), row-major, `columns`
 * per row. Each tile is scaled to fit tileW×tileH keeping its aspect ratio and centred
 * (letterboxed with the background): figures must not distort what the model looked at.
 * Canvas: columns·tileW + (columns−1)·gap wide, rows·tileH + (rows−1)·gap high.
 * A tile that fails to decode throws an ImageError labelled "grid tile <index>".
 */
export async function renderGrid(
  tiles: Buffer[],
  columns: number,
  tileW: number,
  tileH: number,
  opts: GridOptions = {},
): Promise<Buffer> {
  const gap = opts.gap ?? 0;
  for (const [name, v] of Object.entries({ columns, tileW, tileH })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`renderGrid: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(gap) || gap < 0) {
    throw new RangeError(`renderGrid: gap must be a non-negative integer, got ${gap}`);
  }
  if (tiles.length === 0) throw new RangeError('renderGrid: no tiles given');
  const [r, g, b] = opts.background ?? [255, 255, 255];
  const cols = Math.min(columns, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const width = cols * tileW + (cols - 1) * gap;
  const height = rows * tileH + (rows - 1) * gap;
  const fitted = await Promise.all(
    tiles.map(async (tile, i) => {
      // decodeImage first: same validation and error messages as every other input.
      const img = await decodeImage(tile, { label: `grid tile ${i}` });
      return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
        .resize(tileW, tileH, { fit: 'contain', background: { r, g, b } })
        .raw()
        .toBuffer();
    }),
  );
  // Assembled in JS rather than with sharp's composite, which would add an alpha channel.
  const canvas = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) canvas.set([r, g, b], p * 3);
  fitted.forEach((tile, i) => {
    const left = (i % cols) * (tileW + gap);
    const top = Math.floor(i / cols) * (tileH + gap);
    for (let y = 0; y < tileH; y++) {
      canvas.set(tile.subarray(y * tileW * 3, (y + 1) * tileW * 3), ((top + y) * width + left) * 3);
    }
  });
  return sharp(canvas, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
