import { expect } from 'vitest';

/** Min–max normalised per image, as users compare heatmaps. */
export function normalised(maps: Float32Array, n: number): Float32Array {
  const size = maps.length / n;
  const out = new Float32Array(maps.length);
  for (let i = 0; i < n; i++) {
    const m = maps.subarray(i * size, (i + 1) * size);
    const lo = Math.min(...m);
    const hi = Math.max(...m);
    for (let j = 0; j < size; j++) out[i * size + j] = hi > lo ? (m[j] - lo) / (hi - lo) : 0;
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

export function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}
