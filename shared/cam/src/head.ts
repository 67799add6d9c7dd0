import { readFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import type { LayerSubgraph } from './layer-subgraph.js';
import type { DenseLayerSpec, ModelSpec } from './model-spec.js';
import { ModelSpecError } from './model-spec.js';

/**
 * The part of the network after the target layer: y = g(A). It is the only part that is ever
 * differentiated — the backbone runs forward only.
 */
export interface Head {
  /** Embedding dimension. */
  readonly dim: number;
  readonly l2normalize: boolean;
  /** Final embedding (L2-normalised when the spec says so) from A [N,h,w,K]; differentiable in A. */
  apply(a: tf.Tensor4D): tf.Tensor2D;
  /**
   * For GAP → linear heads, the linear map (kernel null = identity), so the gradient has a closed
   * form; null for every other head (autodiff is used).
   */
  readonly linear: { kernel: tf.Tensor2D | null; bias: tf.Tensor1D | null } | null;
  dispose(): void;
}

export interface DenseWeights {
  spec: DenseLayerSpec;
  kernel: tf.Tensor2D;
  bias: tf.Tensor1D | null;
}

function l2(y: tf.Tensor2D): tf.Tensor2D {
  // The epsilon keeps an all-zero embedding finite instead of NaN.
  return tf.div(y, tf.maximum(tf.norm(y, 'euclidean', 1, true), 1e-12));
}

/**
 * y = [dense…](GAP(P)), optionally L2-normalised, where P = A, or P = the model's layers from the
 * target to `poolLayer` applied to A (explaining an earlier target layer for the same embedding).
 */
export class GapDenseHead implements Head {
  readonly linear: Head['linear'];

  constructor(
    readonly channels: number,
    readonly layers: DenseWeights[],
    readonly l2normalize: boolean,
    private readonly toPool?: LayerSubgraph,
  ) {
    const onlyLinear = layers.length === 0 || (layers.length === 1 && layers[0].spec.activation === 'linear');
    this.linear =
      onlyLinear && !toPool ? { kernel: layers[0]?.kernel ?? null, bias: layers[0]?.bias ?? null } : null;
  }

  get dim(): number {
    return this.layers.at(-1)?.spec.outputDim ?? this.channels;
  }

  apply(a: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let y = tf.mean(this.toPool ? this.toPool.apply(a) : a, [1, 2]) as tf.Tensor2D;
      for (const layer of this.layers) {
        y = tf.matMul(y, layer.kernel);
        if (layer.bias) y = tf.add(y, layer.bias);
        if (layer.spec.activation === 'relu') y = tf.relu(y);
      }
      return this.l2normalize ? l2(y) : y;
    });
  }

  dispose(): void {
    for (const l of this.layers) {
      l.kernel.dispose();
      l.bias?.dispose();
    }
  }
}

/** The model's own layers from the target to the embedding layer, applied eagerly so tf.grad sees them. */
export class LayerGraphHead implements Head {
  readonly linear: Head['linear'];

  constructor(
    readonly graph: LayerSubgraph,
    readonly dim: number,
    readonly l2normalize: boolean,
  ) {
    this.linear = detectGapLinear(graph.layers);
  }

  apply(a: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const t = this.graph.apply(a);
      if (t.rank !== 2)
        throw new Error(`The embedding must be a vector per image; the head produced rank ${t.rank}.`);
      return this.l2normalize ? l2(t as tf.Tensor2D) : (t as tf.Tensor2D);
    });
  }

  dispose(): void {
    // The layers belong to the loaded model, which owns their weights.
  }
}

/** GlobalAveragePooling2D followed by a linear Dense layer: the closed form applies. */
function detectGapLinear(chain: tf.layers.Layer[]): Head['linear'] {
  const names = chain.map((l) => l.getClassName());
  const gapOnly = names.length === 1 && names[0] === 'GlobalAveragePooling2D';
  if (gapOnly) return { kernel: null, bias: null };
  if (names.length !== 2 || names[0] !== 'GlobalAveragePooling2D' || names[1] !== 'Dense') return null;
  const dense = chain[1];
  const config = dense.getConfig();
  if (config.activation !== 'linear') return null;
  const [kernel, bias] = dense.getWeights() as [tf.Tensor2D, tf.Tensor1D | undefined];
  return { kernel, bias: bias ?? null };
}

/** Reads the dense layers of a `gap` head from the float32 file the spec names. */
export async function loadDenseWeights(spec: ModelSpec): Promise<DenseWeights[]> {
  if (spec.head.type !== 'gap' || spec.head.dense.length === 0) return [];
  const file = spec.weightsPath!;
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new ModelSpecError(
      spec.specPath ?? spec.name,
      `cannot read head weights ${file} (${(err as NodeJS.ErrnoException).code}).`,
    );
  }
  const expected = spec.head.dense.reduce(
    (s, l) => s + l.inputDim * l.outputDim + (l.bias ? l.outputDim : 0),
    0,
  );
  if (buf.byteLength !== expected * 4) {
    throw new ModelSpecError(
      spec.specPath ?? spec.name,
      `head weights ${file} hold ${buf.byteLength / 4} float32 values but head.dense needs ${expected} (kernel inputDim×outputDim then bias, per layer).`,
    );
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let at = 0;
  return spec.head.dense.map((l) => {
    const kernel = tf.tensor2d(all.subarray(at, at + l.inputDim * l.outputDim), [l.inputDim, l.outputDim]);
    at += l.inputDim * l.outputDim;
    let bias: tf.Tensor1D | null = null;
    if (l.bias) {
      bias = tf.tensor1d(all.subarray(at, at + l.outputDim));
      at += l.outputDim;
    }
    return { spec: l, kernel, bias };
  });
}

/** Serialises dense layers in the layout loadDenseWeights reads (used by train-head and tests). */
export function encodeDenseWeights(layers: Array<{ kernel: Float32Array; bias?: Float32Array }>): Buffer {
  const parts: Buffer[] = [];
  for (const l of layers) {
    parts.push(Buffer.from(l.kernel.buffer, l.kernel.byteOffset, l.kernel.byteLength));
    if (l.bias) parts.push(Buffer.from(l.bias.buffer, l.bias.byteOffset, l.bias.byteLength));
  }
  return Buffer.concat(parts);
}
