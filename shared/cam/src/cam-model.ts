import type * as tf from '@tensorflow/tfjs';
import type { Head } from './head.js';
import type { ModelSpec } from './model-spec.js';

/**
 * A runtime that gives the target activation A for a batch, forward only. This is the seam where
 * TF.js and ONNX Runtime plug in; the head (and so the gradient) is always TF.js.
 */
export interface Backbone {
  /** e.g. "tfjs-wasm", "onnxruntime-cpu". */
  readonly runtime: string;
  /** Memory layout the preprocessed input must have. */
  readonly inputLayout: 'nhwc' | 'nchw';
  /** A as [N,h,w,K] (NHWC); the caller owns (and disposes) the tensor. */
  forward(input: Float32Array, n: number): Promise<tf.Tensor4D>;
  dispose(): void;
}

/** A model split into its forward-only backbone and its differentiable head. */
export interface CamModel {
  readonly spec: ModelSpec;
  readonly backbone: Backbone;
  readonly head: Head;
  dispose(): void;
}

/**
 * A CamModel whose dispose() frees the head and then `owner` (the backbone, or the loaded model
 * whose layers the backbone shares).
 */
export function camModel(
  spec: ModelSpec,
  backbone: Backbone,
  head: Head,
  owner: { dispose(): void } = backbone,
): CamModel {
  return {
    spec,
    backbone,
    head,
    dispose: () => {
      head.dispose();
      owner.dispose();
    },
  };
}
