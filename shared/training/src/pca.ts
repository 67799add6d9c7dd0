import * as tf from '@tensorflow/tfjs';
import type { Prng } from './prng.js';

/**
 * Orthonormal basis (d×k, row-major: column j = direction j) of the top-k principal subspace of
 * n centred rows of x (n×d), by subspace iteration on the covariance (Golub & Van Loan §8.2.4) from
 * a seeded random start, re-orthonormalised each step (modified Gram–Schmidt in float64). Columns
 * are ordered by decreasing variance. Directions the data do not span (rank < k) are filled with
 * random unit vectors orthogonal to the rest. A few iterations suffice for an initialisation.
 */
export function principalSubspace(
  x: Float32Array,
  n: number,
  d: number,
  k: number,
  rng: Prng,
  iterations = 10,
): Float32Array {
  if (k > d) throw new Error(`principalSubspace: k = ${k} > d = ${d}.`);
  if (x.length !== n * d) throw new Error(`principalSubspace: ${x.length} values for ${n}×${d}.`);
  // The basis is kept transposed (k×d, one direction per row), and (C·Q)ᵀ = ((Qᵀ·Xᵀ)·X)/n is
  // computed with the data as the right operand of both products: the WebAssembly backend packs
  // the right operand once per tensor and caches it, so a changing right operand is slow (as are
  // transposeA / transposeB products). The d×d covariance is never formed.
  const xs = tf.tensor2d(x, [n, d]);
  const xt = tf.transpose(xs);
  const covTimes = (qt: Float64Array): Float32Array =>
    tf.tidy(() => {
      const q = tf.tensor2d(Float32Array.from(qt), [k, d]);
      return tf.div(tf.matMul(tf.matMul(q, xt), xs), Math.max(n, 1)).dataSync() as Float32Array;
    });
  try {
    let qt = orthonormalizeRows(Float64Array.from(rng.normalArray(k * d, 1)), k, d, rng);
    for (let it = 0; it < iterations; it++)
      qt = orthonormalizeRows(Float64Array.from(covTimes(qt)), k, d, rng);
    // Order by the Rayleigh quotient qᵀCq (subspace iteration converges to the subspace, not the order).
    const cq = covTimes(qt);
    const ray = Array.from({ length: k }, (_, j) => dot(qt, j * d, cq, j * d, d));
    const order = ray.map((_, j) => j).sort((a, b) => ray[b] - ray[a]);
    const out = new Float32Array(d * k);
    for (let j = 0; j < k; j++) for (let i = 0; i < d; i++) out[i * k + j] = qt[order[j] * d + i];
    return out;
  } finally {
    xs.dispose();
    xt.dispose();
  }
}

function dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[ao + i] * b[bo + i];
  return s;
}

/** Modified Gram–Schmidt on the rows of a (k×d), replacing degenerate rows by random ones. */
function orthonormalizeRows(a: Float64Array, k: number, d: number, rng: Prng): Float64Array {
  for (let j = 0; j < k; j++) {
    const row = j * d;
    for (let attempt = 0; ; attempt++) {
      const before = Math.sqrt(dot(a, row, a, row, d));
      for (let p = 0; p < j; p++) {
        const c = dot(a, row, a, p * d, d);
        for (let i = 0; i < d; i++) a[row + i] -= c * a[p * d + i];
      }
      const norm = Math.sqrt(dot(a, row, a, row, d));
      if (norm > 1e-30 && norm > 1e-10 * before) {
        for (let i = 0; i < d; i++) a[row + i] /= norm;
        break;
      }
      if (attempt >= 10) throw new Error('principalSubspace: could not orthonormalise the basis.');
      for (let i = 0; i < d; i++) a[row + i] = rng.normal();
    }
  }
  return a;
}
