/** A single-channel map, row-major (`data[y * width + x]`), values in [0,1] after normalisation. */
export interface Heatmap {
  width: number;
  height: number;
  data: Float32Array;
}

/** Result of {@link normalizeMinMax}. */
export interface NormalizedMap {
  map: Float32Array;
  /** True when the input carried no signal (max 0, or constant): the output is all zero. */
  allZero: boolean;
}

function checkDims(name: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w <= 0 || h <= 0) {
    throw new RangeError(`${name}: size must be positive integers, got ${w}×${h}`);
  }
}

/**
 * Bilinear resize with half-pixel centres: destination pixel d samples the source at
 * `(d + 0.5) · src/dst − 0.5`, clamped to the edge pixels. This is the convention of OpenCV
 * `cv2.resize(INTER_LINEAR)` and TF `resizeBilinear(halfPixelCenters=true)`, so heatmaps match the
 * reference implementations pixel for pixel (no antialiasing when shrinking, like both of them).
 */
export function upsampleBilinear(
  src: Float32Array,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
): Float32Array {
  checkDims('upsampleBilinear source', srcW, srcH);
  checkDims('upsampleBilinear destination', dstW, dstH);
  if (src.length !== srcW * srcH) {
    throw new RangeError(`upsampleBilinear: source has ${src.length} values, expected ${srcW}×${srcH}`);
  }
  // Column weights are the same for every row: compute them once.
  const x0 = new Int32Array(dstW);
  const x1 = new Int32Array(dstW);
  const fx = new Float64Array(dstW);
  axisWeights(srcW, dstW, x0, x1, fx);
  const y0 = new Int32Array(dstH);
  const y1 = new Int32Array(dstH);
  const fy = new Float64Array(dstH);
  axisWeights(srcH, dstH, y0, y1, fy);

  // Separable: interpolate every source row along x once (in float64, as the 2-D formula would),
  // then each output pixel is one lerp between two of those rows — about 2× fewer operations.
  const rows = new Float64Array(srcH * dstW);
  for (let r = 0; r < srcH; r++) {
    const base = r * srcW;
    for (let dx = 0; dx < dstW; dx++) {
      const a = src[base + x0[dx]];
      rows[r * dstW + dx] = a + (src[base + x1[dx]] - a) * fx[dx];
    }
  }
  const out = new Float32Array(dstW * dstH);
  for (let dy = 0; dy < dstH; dy++) {
    const r0 = y0[dy] * dstW;
    const r1 = y1[dy] * dstW;
    const wy = fy[dy];
    const o = dy * dstW;
    for (let dx = 0; dx < dstW; dx++) {
      const top = rows[r0 + dx];
      out[o + dx] = top + (rows[r1 + dx] - top) * wy;
    }
  }
  return out;
}

function axisWeights(srcN: number, dstN: number, lo: Int32Array, hi: Int32Array, frac: Float64Array): void {
  const scale = srcN / dstN;
  for (let d = 0; d < dstN; d++) {
    // Clamping the sample position reproduces OpenCV/TF edge handling (edge pixels replicate).
    const s = Math.min(Math.max((d + 0.5) * scale - 0.5, 0), srcN - 1);
    const i = Math.floor(s);
    lo[d] = i;
    hi[d] = Math.min(i + 1, srcN - 1);
    frac[d] = s - i;
  }
}

/**
 * Per-image min–max normalisation to [0,1]. A map without signal (constant, including all zero)
 * becomes all zero and is flagged instead of being divided by zero (as wsolevaluation does).
 * Non-finite values are a compute bug, not "no signal": they throw rather than being hidden.
 */
export function normalizeMinMax(
  map: Float32Array,
  out: Float32Array = new Float32Array(map.length),
): NormalizedMap {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  // v·0 is NaN exactly for NaN and ±Infinity: one cheap check instead of isFinite per pixel.
  let poison = 0;
  for (let i = 0; i < map.length; i++) {
    const v = map[i];
    poison += v * 0;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (poison !== 0) {
    const i = map.findIndex((v) => !Number.isFinite(v));
    throw new RangeError(`normalizeMinMax: non-finite value ${map[i]} at index ${i}`);
  }
  const range = max - min;
  if (map.length === 0 || !(range > 0)) return { map: out.fill(0), allZero: true };
  for (let i = 0; i < map.length; i++) out[i] = (map[i] - min) / range;
  return { map: out, allZero: false };
}

/**
 * `normalizeMinMax(upsampleBilinear(...))` normalised in place: the same values bit for bit,
 * without a second array — this runs once per heatmap.
 */
export function upsampleNormalized(
  src: Float32Array,
  srcW: number,
  srcH: number,
  dstW: number,
  dstH: number,
): NormalizedMap {
  const up = upsampleBilinear(src, srcW, srcH, dstW, dstH);
  return normalizeMinMax(up, up);
}
