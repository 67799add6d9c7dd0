/**
 * Time computeImageMetrics on 224×224 maps (upsampled 7×7 CAMs, as the pipeline produces, and
 * white noise as a worst case for the component search), next to 100 independent flood fills.
 * Run: npx tsx shared/metrics/bench/image-metrics.bench.ts
 */

import { rng } from '@embedcam/test-support/random';
import type { Box } from '../src/index.js';
import {
  componentBoxes,
  computeImageMetrics,
  normalizeMinMax,
  TAUS,
  upsampleBilinear,
} from '../src/index.js';

const S = 224;
const rand = rng(42);
const camMaps = Array.from({ length: 50 }, () => {
  const cam = Float32Array.from({ length: 49 }, () => Math.max(0, rand() - 0.4));
  return normalizeMinMax(upsampleBilinear(cam, 7, 7, S, S)).map;
});
const noiseMaps = Array.from({ length: 20 }, () => Float32Array.from({ length: S * S }, () => rand()));
const gt: Box = [40, 30, 120, 150];

function time(label: string, maps: Float32Array[], fn: (m: Float32Array) => void): void {
  for (let i = 0; i < 5; i++) fn(maps[i % maps.length]); // warm-up (JIT)
  const t0 = performance.now();
  for (const m of maps) fn(m);
  const ms = (performance.now() - t0) / maps.length;
  console.log(`${label.padEnd(44)} ${ms.toFixed(2)} ms/image`);
}

time('computeImageMetrics, upsampled 7×7 CAM', camMaps, (m) =>
  computeImageMetrics({ width: S, height: S, data: m }, gt),
);
time('computeImageMetrics, white noise', noiseMaps, (m) =>
  computeImageMetrics({ width: S, height: S, data: m }, gt),
);
const big = Array.from({ length: 10 }, () => {
  const cam = Float32Array.from({ length: 49 }, () => Math.max(0, rand() - 0.4));
  return normalizeMinMax(upsampleBilinear(cam, 7, 7, 500, 375)).map;
});
time('computeImageMetrics, 500×375 (original size)', big, (m) =>
  computeImageMetrics({ width: 500, height: 375, data: m }, [100, 80, 250, 200]),
);
time('100 × componentBoxes, upsampled 7×7 CAM', camMaps, (m) => {
  for (const t of TAUS) componentBoxes(m, S, S, t);
});
