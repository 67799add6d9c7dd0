import { initBackend } from '@embedcam/cam';
import * as tf from '@tensorflow/tfjs';
import { l2normalizeRows, PROXY_ANCHOR_DEFAULTS, proxyAnchorLoss } from './losses.js';
import { matMul } from './ops.js';
import { principalSubspace } from './pca.js';
import { Prng } from './prng.js';

export interface TrainHeadOptions {
  /** Output (embedding) dimension, default 128. */
  dim?: number;
  /** Hidden layer widths of an MLP head (ReLU after each), default none: a single linear layer. */
  hidden?: readonly number[];
  /** Passes over the training set, default 20. */
  epochs?: number;
  /** Embeddings per batch, default 128 (Proxy-Anchor needs no class-balanced sampling). */
  batchSize?: number;
  /** Adam learning rate of the head, default 1e-3. */
  lr?: number;
  /** Proxies learn this many times faster, default 100 (Kim et al. 2020). */
  proxyLrMultiplier?: number;
  /** Decoupled weight decay (AdamW, Loshchilov & Hutter 2019) on all parameters, default 1e-4. */
  weightDecay?: number;
  /** Proxy-Anchor scale α, default 32. */
  alpha?: number;
  /** Proxy-Anchor margin δ, default 0.1. */
  delta?: number;
  /** Seeds the initialisation and the batch order, default 0. */
  seed?: number;
  /**
   * Affine map applied to the features before the head, from training-set statistics, folded into
   * the first layer on export (so the written head reads raw pooled features):
   * 'center' (default) subtracts the mean and divides by one global RMS (keeps the geometry);
   * 'standardize' uses per-dimension std (amplifies low-variance, often noisy, channels); 'none'.
   */
  inputScaling?: InputScaling;
  /**
   * First-layer init of a linear head: 'pca' (default) starts from the top-`dim` principal
   * directions of the (scaled) training features, an isometry on the subspace that carries most of
   * the variance, so training starts from what the bare features already know; 'random' is
   * Glorot-normal. MLP heads always start random (He-normal before ReLU).
   */
  init?: HeadInit;
  onEpoch?: (epoch: number, epochs: number, loss: number) => void | Promise<void>;
}

export type InputScaling = 'center' | 'standardize' | 'none';
export type HeadInit = 'pca' | 'random';

export const TRAIN_HEAD_DEFAULTS = {
  dim: 128,
  hidden: [] as number[],
  epochs: 20,
  batchSize: 128,
  lr: 1e-3,
  proxyLrMultiplier: 100,
  weightDecay: 1e-4,
  alpha: PROXY_ANCHOR_DEFAULTS.alpha,
  delta: PROXY_ANCHOR_DEFAULTS.delta,
  seed: 0,
  inputScaling: 'center' as InputScaling,
  init: 'pca' as HeadInit,
};

export type ResolvedTrainHeadOptions = typeof TRAIN_HEAD_DEFAULTS;

/** One dense layer as written to a spec's weights file. */
export interface DenseLayer {
  inputDim: number;
  outputDim: number;
  activation: 'linear' | 'relu';
  /** inputDim×outputDim, row-major. */
  kernel: Float32Array;
  bias: Float32Array;
}

export interface TrainedHead {
  /** Dense layers that map the raw pooled feature to the embedding (before L2 normalisation). */
  layers: DenseLayer[];
  /** Class id → proxy row. */
  classes: number[];
  /** Learnt proxies, classes.length × dim (not normalised). */
  proxies: Float32Array;
  /** Mean training loss per epoch. */
  losses: number[];
  options: ResolvedTrainHeadOptions;
  steps: number;
}

export function resolveTrainHeadOptions(opts: TrainHeadOptions = {}): ResolvedTrainHeadOptions {
  const o = { ...TRAIN_HEAD_DEFAULTS };
  // Only the training options (callers may pass a larger object, e.g. RunTrainHeadOptions).
  const given = opts as Record<string, unknown>;
  for (const k of Object.keys(TRAIN_HEAD_DEFAULTS) as Array<keyof ResolvedTrainHeadOptions>)
    if (given[k] !== undefined) (o as Record<string, unknown>)[k] = given[k];
  o.hidden = [...(opts.hidden ?? [])];
  const posInt = (name: string, v: number, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}.`);
  };
  posInt('dim', o.dim);
  posInt('epochs', o.epochs, 0);
  posInt('batchSize', o.batchSize);
  for (const h of o.hidden) posInt('hidden layer width', h);
  if (!Number.isInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}.`);
  for (const [name, v] of [
    ['lr', o.lr],
    ['proxyLrMultiplier', o.proxyLrMultiplier],
    ['alpha', o.alpha],
  ] as const)
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${name} must be a positive number, got ${v}.`);
  if (!(o.weightDecay >= 0)) throw new Error(`weightDecay must be ≥ 0, got ${o.weightDecay}.`);
  if (!Number.isFinite(o.delta)) throw new Error(`delta must be a number, got ${o.delta}.`);
  if (!['center', 'standardize', 'none'].includes(o.inputScaling))
    throw new Error(`inputScaling must be center, standardize or none, got ${o.inputScaling}.`);
  if (!['pca', 'random'].includes(o.init)) throw new Error(`init must be pca or random, got ${o.init}.`);
  return o;
}

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
 * Trains a projection head (linear, or an MLP) with the Proxy-Anchor loss on fixed features of a
 * frozen backbone. Deterministic for a given seed: the weights are initialised and the batches
 * drawn from a seeded PRNG, and the TF.js kernels used are single-threaded.
 *
 * Init: a linear head from the principal subspace of the features (init 'pca'), else Glorot-normal
 * (He-normal before a ReLU); biases 0; proxies He-normal with fan-out = number of classes, like the
 * authors' code (kaiming_normal_, mode "fan_out").
 */
export async function trainHead(
  features: Float32Array,
  labels: readonly number[],
  inputDim: number,
  options: TrainHeadOptions = {},
): Promise<TrainedHead> {
  const o = resolveTrainHeadOptions(options);
  await initBackend();
  const n = labels.length;
  if (features.length !== n * inputDim)
    throw new Error(`trainHead: ${features.length} values for ${n} labels × ${inputDim} dimensions.`);
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  if (classes.length < 2) throw new Error(`trainHead needs at least 2 classes, got ${classes.length}.`);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const rng = new Prng(o.seed);

  const { mean, std } = featureStats(features, n, inputDim, o.inputScaling);
  const x = new Float32Array(features.length);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < inputDim; d++) x[i * inputDim + d] = (features[i * inputDim + d] - mean[d]) / std[d];
  const y = Int32Array.from(labels, (l) => classIndex.get(l)!);

  const widths = [inputDim, ...o.hidden, o.dim];
  const vars: Array<{ kernel: tf.Variable; bias: tf.Variable; activation: 'linear' | 'relu' }> = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const [fanIn, fanOut] = [widths[l], widths[l + 1]];
    const relu = l + 2 < widths.length;
    const std0 = relu ? Math.sqrt(2 / fanIn) : Math.sqrt(2 / (fanIn + fanOut));
    const pca = o.init === 'pca' && widths.length === 2 && fanOut <= fanIn;
    const init = pca ? principalSubspace(x, n, fanIn, fanOut, rng) : rng.normalArray(fanIn * fanOut, std0);
    vars.push({
      kernel: variableFrom(tf.tensor2d(init, [fanIn, fanOut])),
      bias: variableFrom(tf.zeros([fanOut])),
      activation: relu ? 'relu' : 'linear',
    });
  }
  const proxies = variableFrom(
    tf.tensor2d(rng.normalArray(classes.length * o.dim, Math.sqrt(2 / classes.length)), [
      classes.length,
      o.dim,
    ]),
  );
  const headVars = vars.flatMap((v) => [v.kernel, v.bias]);
  const headOpt = tf.train.adam(o.lr);
  const proxyOpt = tf.train.adam(o.lr * o.proxyLrMultiplier);
  const xT = tf.tensor2d(x, [n, inputDim]);
  const yT = tf.tensor1d(y, 'int32');
  const forward = (input: tf.Tensor2D): tf.Tensor2D => {
    let h = input;
    for (const v of vars) {
      h = tf.add(matMul(h, v.kernel as tf.Tensor2D), v.bias);
      if (v.activation === 'relu') h = tf.relu(h);
    }
    return h;
  };

  const losses: number[] = [];
  let steps = 0;
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = rng.permutation(n);
      let sum = 0;
      let batches = 0;
      for (let start = 0; start < n; start += o.batchSize) {
        const idx = order.subarray(start, Math.min(start + o.batchSize, n));
        const lossT = tf.tidy(() => {
          const ix = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(xT, ix) as tf.Tensor2D;
          const yb = tf.gather(yT, ix) as tf.Tensor1D;
          const { value, grads } = tf.variableGrads(
            () => proxyAnchorLoss(forward(xb), yb, proxies as tf.Tensor2D, o),
            [...headVars, proxies],
          );
          headOpt.applyGradients(headVars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
          proxyOpt.applyGradients([{ name: proxies.name, tensor: grads[proxies.name] }]);
          if (o.weightDecay > 0) {
            for (const v of headVars) v.assign(tf.mul(v, 1 - o.lr * o.weightDecay));
            proxies.assign(tf.mul(proxies, 1 - o.lr * o.proxyLrMultiplier * o.weightDecay));
          }
          return value;
        });
        sum += (await lossT.data())[0];
        lossT.dispose();
        batches++;
        steps++;
      }
      const loss = sum / Math.max(batches, 1);
      if (!Number.isFinite(loss)) throw new Error(`Training diverged at epoch ${epoch + 1} (loss ${loss}).`);
      losses.push(loss);
      await options.onEpoch?.(epoch + 1, o.epochs, loss);
    }

    const layers: DenseLayer[] = [];
    for (const [l, v] of vars.entries()) {
      const kernel = (await v.kernel.data()) as Float32Array;
      const bias = (await v.bias.data()) as Float32Array;
      const [inDim, outDim] = v.kernel.shape as [number, number];
      layers.push({
        inputDim: inDim,
        outputDim: outDim,
        activation: v.activation,
        ...(l === 0 ? foldStandardization(kernel, bias, mean, std, inDim, outDim) : { kernel, bias }),
      });
    }
    return {
      layers,
      classes,
      proxies: (await proxies.data()) as Float32Array,
      losses,
      options: o,
      steps,
    };
  } finally {
    xT.dispose();
    yT.dispose();
    for (const v of vars) {
      v.kernel.dispose();
      v.bias.dispose();
    }
    proxies.dispose();
    headOpt.dispose();
    proxyOpt.dispose();
  }
}

function variableFrom(t: tf.Tensor): tf.Variable {
  const v = tf.variable(t);
  t.dispose();
  return v;
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

/** The head's embedding of raw pooled features: dense layers, then L2 normalisation. N×dim. */
export function applyHead(layers: readonly DenseLayer[], features: Float32Array, n: number): Float32Array {
  return tf.tidy(() => {
    let h = tf.tensor2d(features, [n, layers[0]?.inputDim ?? features.length / Math.max(n, 1)]);
    for (const l of layers) {
      h = tf.add(tf.matMul(h, tf.tensor2d(l.kernel, [l.inputDim, l.outputDim])), tf.tensor1d(l.bias));
      if (l.activation === 'relu') h = tf.relu(h);
    }
    return l2normalizeRows(h).dataSync() as Float32Array;
  });
}
