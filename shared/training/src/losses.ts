import * as tf from '@tensorflow/tfjs';
import { matMul } from './ops.js';

/**
 * Proxy-Anchor loss — S. Kim, D. Kim, M. Cho, S. Kwak, "Proxy Anchor Loss for Deep Metric
 * Learning", CVPR 2020 (arXiv:2003.13911), eq. 4:
 *
 *   ℓ(X) = 1/|P⁺| Σ_{p∈P⁺} log(1 + Σ_{x∈X⁺_p} e^{−α(s(x,p) − δ)})
 *        + 1/|P|  Σ_{p∈P}  log(1 + Σ_{x∈X⁻_p} e^{ α(s(x,p) + δ)})
 *
 * with s the cosine similarity, P all proxies (one per class), P⁺ the proxies with at least one
 * positive in the batch, X⁺_p / X⁻_p the batch embeddings of / not of p's class. The paper's
 * defaults are α = 32, δ = 0.1.
 */
export interface ProxyAnchorOptions {
  /** Scale α (default 32). */
  alpha?: number;
  /** Margin δ (default 0.1). */
  delta?: number;
}

export const PROXY_ANCHOR_DEFAULTS = { alpha: 32, delta: 0.1 } as const;

/** Rows divided by their L2 norm (an all-zero row stays zero instead of becoming NaN). */
export function l2normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 1, true), 1e-12)));
}

/**
 * Proxy-Anchor loss of a batch (a scalar, differentiable in `embeddings` and `proxies`).
 * `labels` are proxy indices 0..C−1 (int32), one per embedding row.
 *
 * log(1 + Σ e^z) is computed as a masked log-sum-exp with a zero term, so it stays finite for any α
 * (the reference implementation exponentiates directly and overflows float32 for α(1+δ) ≳ 88).
 */
export function proxyAnchorLoss(
  embeddings: tf.Tensor2D,
  labels: tf.Tensor1D,
  proxies: tf.Tensor2D,
  opts: ProxyAnchorOptions = {},
): tf.Scalar {
  const alpha = opts.alpha ?? PROXY_ANCHOR_DEFAULTS.alpha;
  const delta = opts.delta ?? PROXY_ANCHOR_DEFAULTS.delta;
  const [b] = embeddings.shape;
  const [c] = proxies.shape;
  if (labels.shape[0] !== b)
    throw new Error(`proxyAnchorLoss: ${labels.shape[0]} labels for ${b} embeddings.`);
  if (embeddings.shape[1] !== proxies.shape[1]) {
    throw new Error(
      `proxyAnchorLoss: embeddings have ${embeddings.shape[1]} dimensions, proxies ${proxies.shape[1]}.`,
    );
  }
  return tf.tidy(() => {
    const cos = matMul(l2normalizeRows(embeddings), tf.transpose(l2normalizeRows(proxies))); // B×C
    const pos = tf.cast(tf.oneHot(tf.cast(labels, 'int32'), c), 'bool'); // B×C
    const neg = tf.logicalNot(pos);
    const off = tf.fill([b, c], -1e4); // exp(−1e4) = 0: a masked-out term
    const zero = tf.zeros([1, c]);
    // log(1 + Σ_{x∈X⁺_p} exp(−α(s − δ))) per proxy, as logsumexp over {0} ∪ {z}.
    const posZ = tf.where(pos, tf.mul(-alpha, tf.sub(cos, delta)), off);
    const posTerm = tf.logSumExp(tf.concat([zero, posZ], 0), 0); // C
    const negZ = tf.where(neg, tf.mul(alpha, tf.add(cos, delta)), off);
    const negTerm = tf.logSumExp(tf.concat([zero, negZ], 0), 0); // C
    const hasPos = tf.cast(tf.greater(tf.sum(tf.cast(pos, 'float32'), 0), 0), 'float32'); // C
    const nPos = tf.maximum(tf.sum(hasPos), 1);
    const posLoss = tf.div(tf.sum(tf.mul(posTerm, hasPos)), nPos);
    const negLoss = tf.div(tf.sum(negTerm), c);
    return tf.add(posLoss, negLoss) as tf.Scalar;
  });
}
