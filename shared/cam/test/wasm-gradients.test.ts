import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureHeadGradientKernels } from '../src/index.js';

/** ∂ Σ(depthwiseConv2d(x)·r) / ∂x on the current backend. */
async function inputGradient(
  x: Float32Array,
  f: Float32Array,
  r: Float32Array,
  shapes: { x: [number, number, number, number]; f: [number, number, number, number]; out: number[] },
  strides: [number, number],
  pad: 'same' | 'valid',
): Promise<Float32Array> {
  const g = tf.tidy(() => {
    const filter = tf.tensor4d(f, shapes.f);
    const weights = tf.tensor(r, shapes.out);
    return tf.grad((xs: tf.Tensor) =>
      tf.sum(tf.mul(tf.depthwiseConv2d(xs as tf.Tensor4D, filter, strides, pad), weights)),
    )(tf.tensor4d(x, shapes.x));
  });
  const out = (await g.data()) as Float32Array;
  g.dispose();
  return out;
}

describe('depthwise input-gradient kernel for the WebAssembly backend', () => {
  beforeEach(async () => {
    await tf.setBackend('wasm');
  });
  afterAll(async () => {
    await tf.setBackend('wasm');
  });

  for (const [strides, pad, mult] of [
    [[1, 1], 'same', 1],
    [[2, 2], 'same', 2],
    [[2, 2], 'valid', 1],
  ] as const) {
    it(`matches the CPU backend (stride ${strides[0]}, ${pad}, multiplier ${mult})`, async () => {
      const rnd = (n: number, seed: number) =>
        Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed));
      const xShape: [number, number, number, number] = [2, 9, 8, 3];
      const fShape: [number, number, number, number] = [3, 3, 3, mult];
      const outShape = tf.tidy(
        () =>
          tf.depthwiseConv2d(
            tf.zeros(xShape) as tf.Tensor4D,
            tf.zeros(fShape) as tf.Tensor4D,
            [...strides] as [number, number],
            pad,
          ).shape,
      );
      const x = rnd(2 * 9 * 8 * 3, 1);
      const f = rnd(27 * mult, 2);
      const r = rnd(
        outShape.reduce((a, b) => a * b, 1),
        3,
      );
      const shapes = { x: xShape, f: fShape, out: outShape };

      ensureHeadGradientKernels();
      expect(tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')).toBeDefined();
      const wasm = await inputGradient(x, f, r, shapes, [...strides], pad);
      await tf.setBackend('cpu');
      const cpu = await inputGradient(x, f, r, shapes, [...strides], pad);
      expect(cpu.some((v) => v !== 0)).toBe(true);
      let d = 0;
      for (let i = 0; i < cpu.length; i++) d = Math.max(d, Math.abs(cpu[i] - wasm[i]));
      expect(d).toBeLessThan(1e-5);
    });
  }
});
