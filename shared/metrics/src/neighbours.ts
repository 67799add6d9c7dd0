/**
 * Writes the indices of the 8-connected neighbours of pixel p (clamped to the map, p itself left
 * out) into `out`, in raster order, and returns how many there are. Both component labellings use
 * it, so they agree on what "connected" means.
 */
export function neighbours8(p: number, width: number, height: number, out: Int32Array): number {
  const px = p % width;
  const py = (p - px) / width;
  const ya = py > 0 ? py - 1 : 0;
  const yb = py < height - 1 ? py + 1 : py;
  const xa = px > 0 ? px - 1 : 0;
  const xb = px < width - 1 ? px + 1 : px;
  let n = 0;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const q = y * width + x;
      if (q !== p) out[n++] = q;
    }
  }
  return n;
}
