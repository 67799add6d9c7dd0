/**
 * - 'bilinear': plain bilinear with half-pixel centres, each output pixel reads the 2×2 source
 *   pixels around its centre. Same as tf.image.resize(method='bilinear', antialias=False) (Keras'
 *   default), torch interpolate(mode='bilinear', align_corners=False) and cv2.INTER_LINEAR (up to
 *   OpenCV's fixed-point rounding). Aliases when shrinking (beyond 2× it skips source pixels).
 * - 'bilinear-antialias': a triangle filter widened by the shrink factor (every source pixel
 *   contributes), as PIL's Image.resize(BILINEAR), torchvision antialias=True and
 *   tf.image.resize(antialias=True). Identical to 'bilinear' when enlarging. Coefficients follow
 *   PIL's precompute_coeffs; PIL rounds to 8 bits between its two passes and this keeps floats, so
 *   expect ±1 differences (not checked against PIL itself: it is not installed here).
 * Why not libvips (sharp)? Its 'linear' kernel always antialiases when shrinking and matches neither
 * reference exactly (200 CUB photos → 224×224: mean |Δ| 2.3/255 vs plain bilinear, max 148/255),
 * and when enlarging it sits up to ~0.4 output px off the half-pixel grid. Here the arithmetic is
 * explicit, so a Python reference can reproduce it; a 500×375 photo → 224×224 takes about 2 ms.
 */
export type ResizeFilter = 'bilinear' | 'bilinear-antialias';

/** Per output index along one axis: which source samples to read and their weights. */
interface AxisTaps {
  start: Int32Array;
  count: Int32Array;
  /** maxTaps weights per output index. */
  weights: Float64Array;
  maxTaps: number;
}

function plainTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * 2);
  for (let i = 0; i < outSize; i++) {
    // Clamping the sample position to the edge pixels is what TF/torch/OpenCV do.
    const f = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), inSize - 1);
    const i0 = Math.floor(f);
    const t = f - i0;
    start[i] = i0;
    count[i] = i0 + 1 < inSize ? 2 : 1;
    weights[i * 2] = count[i] === 2 ? 1 - t : 1;
    weights[i * 2 + 1] = count[i] === 2 ? t : 0;
  }
  return { start, count, weights, maxTaps: 2 };
}

/** PIL's precompute_coeffs with the triangle filter (support 1), in floating point. */
function antialiasTaps(inSize: number, outSize: number): AxisTaps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * maxTaps);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = Math.max(0, 1 - Math.abs((j - center + 0.5) / filterScale));
      weights[i * maxTaps + (j - lo)] = w;
      total += w;
    }
    for (let j = 0; j < hi - lo; j++) weights[i * maxTaps + j] /= total || 1;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, weights, maxTaps };
}

/**
 * Resizes an interleaved raster (HWC, any channel count) to exactly dstW×dstH — aspect ratio is
 * not kept (stretch, no crop), so boxes scale linearly by dstW/srcW and dstH/srcH.
 * Separable: horizontal pass, then vertical, in float.
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  srcW: number,
  srcH: number,
  channels: number,
  dstW: number,
  dstH: number,
  filter: ResizeFilter = 'bilinear',
): Float32Array {
  for (const [name, v] of Object.entries({ srcW, srcH, channels, dstW, dstH })) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`resizeBilinear: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (src.length !== srcW * srcH * channels) {
    throw new RangeError(
      `resizeBilinear: source has ${src.length} values, expected ${srcW}×${srcH}×${channels}`,
    );
  }
  const taps = filter === 'bilinear' ? plainTaps : antialiasTaps;
  const tx = taps(srcW, dstW);
  const ty = taps(srcH, dstH);
  const C = channels;
  // Horizontal: srcH rows × dstW columns. RGB gets its own loop (3 accumulators, no channel
  // loop): it is the hot path for model input and roughly halves the time.
  const mid = new Float32Array(srcH * dstW * C);
  const { start: xs, count: xn, weights: xw, maxTaps: xm } = tx;
  for (let y = 0; y < srcH; y++) {
    const rowIn = y * srcW * C;
    const rowOut = y * dstW * C;
    for (let x = 0; x < dstW; x++) {
      const n = xn[x];
      const wo = x * xm;
      if (C === 3) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        for (let k = 0, i = rowIn + xs[x] * 3; k < n; k++, i += 3) {
          const w = xw[wo + k];
          a0 += src[i] * w;
          a1 += src[i + 1] * w;
          a2 += src[i + 2] * w;
        }
        const o = rowOut + x * 3;
        mid[o] = a0;
        mid[o + 1] = a1;
        mid[o + 2] = a2;
      } else {
        for (let c = 0; c < C; c++) {
          let acc = 0;
          for (let k = 0; k < n; k++) acc += src[rowIn + (xs[x] + k) * C + c] * xw[wo + k];
          mid[rowOut + x * C + c] = acc;
        }
      }
    }
  }
  // Vertical: dstH rows, whole rows at a time (contiguous, so this pass is cheap).
  const out = new Float32Array(dstW * dstH * C);
  const rowLen = dstW * C;
  for (let y = 0; y < dstH; y++) {
    const s = ty.start[y];
    const n = ty.count[y];
    const wo = y * ty.maxTaps;
    const o = y * rowLen;
    if (n === 2) {
      const r0 = s * rowLen;
      const r1 = r0 + rowLen;
      const w0 = ty.weights[wo];
      const w1 = ty.weights[wo + 1];
      for (let i = 0; i < rowLen; i++) out[o + i] = mid[r0 + i] * w0 + mid[r1 + i] * w1;
      continue;
    }
    for (let k = 0; k < n; k++) {
      const w = ty.weights[wo + k];
      const r = (s + k) * rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] += mid[r + i] * w;
    }
  }
  return out;
}
