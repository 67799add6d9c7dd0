import * as tf from '@tensorflow/tfjs';
import type { CamModel } from './cam-model.js';
import type { Head } from './head.js';

/** How the channel weights α are obtained. `auto`: closed form when the head allows it. */
export type GradientMode = 'auto' | 'closed-form' | 'autodiff';

export interface CamBatch {
  n: number;
  /** Raw map resolution (the target layer's h×w). */
  height: number;
  width: number;
  /** ReLU(Σ_k α_k A_k) per image, before upsampling and normalisation: N×h×w row-major. */
  maps: Float32Array;
  /** Final embeddings (normalised when the spec says so): N×dim. */
  embeddings: Float32Array;
  dim: number;
  /** The explained score y·p per image. */
  scores: Float32Array;
  /** Which gradient path produced the weights. */
  gradient: 'closed-form' | 'autodiff';
}

/**
 * Chooses the proxy each image is explained against, given the batch's embeddings (N×dim):
 * returns N×dim proxies. Seeing the embeddings first allows "explain the nearest proxy".
 */
export type ProxyPicker = (embeddings: Float32Array, n: number, dim: number) => Float32Array;

/**
 * EmbeddingCAM (Bachhawat, arXiv:2402.00909): Grad-CAM with the score L = y·p for a class proxy p.
 * The backbone runs forward only; only the head is differentiated, and one backward pass covers the
 * whole batch because Σ_n y_n·p_n separates per image.
 */
export class EmbeddingCam {
  constructor(
    readonly model: CamModel,
    readonly gradient: GradientMode = 'auto',
  ) {
    if (gradient === 'closed-form' && !model.head.linear) {
      throw new Error(
        `Model ${model.spec.name}: the closed form needs a GAP → linear head; use gradient "autodiff" or "auto".`,
      );
    }
  }

  /** Embeddings only (forward pass + head), N×dim. */
  async embed(input: Float32Array, n: number): Promise<Float32Array> {
    const a = await this.model.backbone.forward(input, n);
    try {
      const y = this.model.head.apply(a);
      const out = (await y.data()) as Float32Array;
      y.dispose();
      return out;
    } finally {
      a.dispose();
    }
  }

  async explain(input: Float32Array, n: number, pick: ProxyPicker): Promise<CamBatch> {
    const a = await this.model.backbone.forward(input, n);
    try {
      return await this.explainActivations(a, pick);
    } finally {
      a.dispose();
    }
  }

  /** The CAM from a given activation A [N,h,w,K] (exposed so tests and other runtimes can reuse it). */
  async explainActivations(a: tf.Tensor4D, pick: ProxyPicker): Promise<CamBatch> {
    const [n, height, width] = a.shape;
    const head = this.model.head;
    const yT = head.apply(a);
    const embeddings = (await yT.data()) as Float32Array;
    const dim = yT.shape[1];
    yT.dispose();
    const proxies = pick(embeddings, n, dim);
    if (proxies.length !== n * dim)
      throw new Error(`Proxy picker returned ${proxies.length} values; expected ${n}×${dim}.`);
    const useClosed = this.gradient === 'closed-form' || (this.gradient === 'auto' && head.linear !== null);
    const [mapsT, scoresT] = tf.tidy(() => {
      const p = tf.tensor2d(proxies, [n, dim]);
      const y = tf.tensor2d(embeddings, [n, dim]);
      const alpha = useClosed ? closedFormWeights(a, head, p) : autodiffWeights(a, head, p);
      // cam = ReLU(Σ_k α_k A_k)
      const cam = tf.relu(tf.sum(tf.mul(a, tf.reshape(alpha, [n, 1, 1, -1])), 3));
      return [cam, tf.sum(tf.mul(y, p), 1)];
    });
    const maps = (await mapsT.data()) as Float32Array;
    const scores = (await scoresT.data()) as Float32Array;
    mapsT.dispose();
    scoresT.dispose();
    return {
      n,
      height,
      width,
      maps,
      embeddings,
      dim,
      scores,
      gradient: useClosed ? 'closed-form' : 'autodiff',
    };
  }
}

/** α = mean_{ij} ∂(Σ_n y_n·p_n)/∂A — gradient of the head only, never of the backbone. */
export function autodiffWeights(a: tf.Tensor4D, head: Head, p: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(head.apply(x as tf.Tensor4D), p)))(a);
    return tf.mean(grad, [1, 2]) as tf.Tensor2D;
  });
}

/**
 * Closed form for GAP → linear (→ L2) heads (DESIGN §1): with z = W·GAP(A) + b,
 *   no normalisation: α = Wᵀp / (h·w);
 *   y = z/‖z‖:        α = Wᵀ(p − (ŷ·p)ŷ) / (‖z‖·h·w).
 * (The spatial mean of ∂L/∂A is the per-position gradient itself, since GAP spreads it evenly.)
 */
export function closedFormWeights(a: tf.Tensor4D, head: Head, p: tf.Tensor2D): tf.Tensor2D {
  const lin = head.linear;
  if (!lin) throw new Error('closedFormWeights needs a GAP → linear head.');
  return tf.tidy(() => {
    const [, h, w] = a.shape;
    let z = tf.mean(a, [1, 2]) as tf.Tensor2D;
    if (lin.kernel) z = tf.matMul(z, lin.kernel);
    if (lin.bias) z = tf.add(z, lin.bias);
    let q = p;
    if (head.l2normalize) {
      const norm = tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-12);
      const yhat = tf.div(z, norm);
      q = tf.div(tf.sub(p, tf.mul(tf.sum(tf.mul(yhat, p), 1, true), yhat)), norm);
    }
    const back = lin.kernel ? tf.matMul(q, lin.kernel, false, true) : q;
    return tf.div(back, h * w) as tf.Tensor2D;
  });
}
