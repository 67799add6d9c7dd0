import * as tf from '@tensorflow/tfjs';

/**
 * a·b with a gradient that uses explicit transposes. TF.js's own MatMul gradient multiplies with
 * transposeA / transposeB set, which the WebAssembly backend runs about 10× slower than a
 * transpose followed by a plain product (measured: 128×1280 by 128×128, 21 ms against 3 ms).
 */
const matMulWithFastGrad = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as tf.Tensor2D[];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
});

export function matMul(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return matMulWithFastGrad(a, b) as tf.Tensor2D;
}
