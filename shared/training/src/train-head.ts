import { initBackend } from '@embedcam/cam';
import * as tf from '@tensorflow/tfjs';
import { featureStats, foldStandardization } from './input-scaling.js';
import { l2normalizeRows, proxyAnchorLoss } from './losses.js';
import { matMul } from './ops.js';
import { principalSubspace } from './pca.js';
import { Prng } from './prng.js';
import {
  type ResolvedTrainHeadOptions,
  resolveTrainHeadOptions,
  type TrainHeadOptions,
} from './train-head-options.js';

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
