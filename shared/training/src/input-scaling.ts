// The affine scaling of features before the head, and its folding into the exported first layer.
import type { InputScaling } from './train-head-options.js';

/**
 * The input scaling's mean and scale per dimension (scale floored so constant dimensions stay
 * finite): 'standardize' per-dimension std, 'center' one global RMS of the centred features.
 */
export function featureStats(
  x: Float32Array,
  n: number,
  dim: number,
  mode: InputScaling = 'standardize',
): { mean: Float64Array; std: Float64Array } {
  if (mode === 'none') return { mean: new Float64Array(dim), std: new Float64Array(dim).fill(1) };
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < dim; d++) {
      const v = x[i * dim + d];
      mean[d] += v;
      sq[d] += v * v;
    }
  const std = new Float64Array(dim);
  let total = 0;
  for (let d = 0; d < dim; d++) {
    mean[d] /= Math.max(n, 1);
    const variance = Math.max(sq[d] / Math.max(n, 1) - mean[d] * mean[d], 0);
    std[d] = Math.max(Math.sqrt(variance), 1e-6);
    total += variance;
  }
  if (mode === 'center') std.fill(Math.max(Math.sqrt(total / Math.max(dim, 1)), 1e-6));
  return { mean, std };
}

/**
 * ((x − μ)/σ)·W + b = x·W′ + b′ with W′ = diag(1/σ)·W and b′ = b − (μ/σ)·W — exact, in float64,
 * so the exported first layer reads raw pooled features.
 */
export function foldStandardization(
  kernel: Float32Array,
  bias: Float32Array,
  mean: Float64Array,
  std: Float64Array,
  inDim: number,
  outDim: number,
): { kernel: Float32Array; bias: Float32Array } {
  const k = new Float32Array(kernel.length);
  const b = new Float64Array(bias);
  for (let i = 0; i < inDim; i++) {
    const s = 1 / std[i];
    for (let j = 0; j < outDim; j++) {
      const w = kernel[i * outDim + j] * s;
      k[i * outDim + j] = w;
      b[j] -= mean[i] * w;
    }
  }
  return { kernel: k, bias: Float32Array.from(b) };
}
