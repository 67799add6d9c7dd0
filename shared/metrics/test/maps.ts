// Synthetic maps for the metrics tests, drawn from a seeded `rng` (@embedcam/test-support/random).
import { normalizeMinMax, upsampleBilinear } from '../src/index.js';

/** A normalised map like the pipeline makes: a ReLU'd small CAM upsampled bilinearly. */
export function camLikeMap(rand: () => number, size: number, cells = 7): Float32Array {
  const cam = Float32Array.from({ length: cells * cells }, () => Math.max(0, rand() - 0.5));
  return normalizeMinMax(upsampleBilinear(cam, cells, cells, size, size)).map;
}

/** Many small components: values quantised to a coarse grid so thresholds hit exact ties. */
export function noisyMap(rand: () => number, w: number, h: number): Float32Array {
  return Float32Array.from({ length: w * h }, () => Math.floor(rand() * 11) / 10);
}

/** Pixels set from a picture: '#' is 1, '+' is 0.5, anything else 0. */
export function picture(rows: string[]): { width: number; height: number; data: Float32Array } {
  const height = rows.length;
  const width = rows[0].length;
  const data = new Float32Array(width * height);
  rows.forEach((r, y) => {
    for (let x = 0; x < width; x++) data[y * width + x] = r[x] === '#' ? 1 : r[x] === '+' ? 0.5 : 0;
  });
  return { width, height, data };
}
