/** [x, y, width, height] in image pixels, top-left origin (CUB convention). */
export type Box = [number, number, number, number];
export type Rgb = [number, number, number];

/**
 * Draws a rectangle outline into an RGB HWC buffer, in place. The outline lies inside the box:
 * columns round(x)…round(x)+t−1 and round(x+w)−t…round(x+w)−1 (rows likewise), clipped to the
 * image, so a box touching the image border stays visible. Non-finite or empty boxes draw nothing.
 */
export function drawBoxOutline(
  rgb: Uint8Array,
  width: number,
  height: number,
  box: Box,
  color: Rgb,
  thickness = 2,
): void {
  const [bx, by, bw, bh] = box;
  if (![bx, by, bw, bh].every(Number.isFinite) || bw <= 0 || bh <= 0) return;
  const x0 = Math.round(bx);
  const y0 = Math.round(by);
  const x1 = Math.round(bx + bw); // exclusive
  const y1 = Math.round(by + bh);
  const t = Math.max(1, Math.round(thickness));
  const fill = (xa: number, xb: number, ya: number, yb: number): void => {
    const xs = Math.max(xa, 0);
    const xe = Math.min(xb, width);
    const ys = Math.max(ya, 0);
    const ye = Math.min(yb, height);
    for (let y = ys; y < ye; y++) {
      for (let x = xs; x < xe; x++) {
        const i = (y * width + x) * 3;
        rgb[i] = color[0];
        rgb[i + 1] = color[1];
        rgb[i + 2] = color[2];
      }
    }
  };
  fill(x0, x1, y0, Math.min(y0 + t, y1)); // top
  fill(x0, x1, Math.max(y1 - t, y0), y1); // bottom
  fill(x0, Math.min(x0 + t, x1), y0, y1); // left
  fill(Math.max(x1 - t, x0), x1, y0, y1); // right
}
