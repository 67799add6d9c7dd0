import { describe, expect, it } from 'vitest';
import { type PixelPreprocess, toFloatTensorData } from '../src/index.js';

// 2×2 image, HWC: p0 p1 / p2 p3.
const pixels = new Uint8Array([
  0, 51, 255, /* p0 */ 255, 0, 102, /* p1 */ 10, 20, 30, /* p2 */ 128, 64, 32 /* p3 */,
]);
const R = [0, 255, 10, 128];
const G = [51, 0, 20, 64];
const B = [255, 102, 30, 32];
const tf: PixelPreprocess = { mode: 'scale', scale: 1 / 127.5, offset: -1 };
const s = (v: number) => v / 127.5 - 1;
const torch: PixelPreprocess = { mode: 'meanstd', mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5] };

const expectClose = (got: Float32Array, want: number[]) => {
  expect(got.length).toBe(want.length);
  for (const [i, w] of want.entries()) expect(got[i], `index ${i}`).toBeCloseTo(w, 5);
};

describe('toFloatTensorData', () => {
  it('scale, rgb, nhwc: v·scale + offset in pixel order', () => {
    const out = toFloatTensorData(pixels, tf, 'rgb', 'nhwc');
    expectClose(out, Array.from(pixels, s));
    expect(out[0]).toBe(-1);
    expect(out[2]).toBe(1);
    expect(out[1]).toBeCloseTo(-0.6, 6);
  });

  it('scale, rgb, nchw: three planes R, G, B', () => {
    expectClose(toFloatTensorData(pixels, tf, 'rgb', 'nchw'), [...R, ...G, ...B].map(s));
  });

  it('scale, bgr, nhwc and nchw: channels swapped', () => {
    const bgrPixels = [0, 1, 2, 3].flatMap((p) => [B[p], G[p], R[p]]);
    expectClose(toFloatTensorData(pixels, tf, 'bgr', 'nhwc'), bgrPixels.map(s));
    expectClose(toFloatTensorData(pixels, tf, 'bgr', 'nchw'), [...B, ...G, ...R].map(s));
  });

  it('meanstd, rgb, nchw: (v/255 − mean)/std per channel', () => {
    const out = toFloatTensorData(pixels, torch, 'rgb', 'nchw');
    const f = (v: number, c: number) => (v / 255 - torch.mean[c]) / torch.std[c];
    expectClose(out, [...R.map((v) => f(v, 0)), ...G.map((v) => f(v, 1)), ...B.map((v) => f(v, 2))]);
    expect(out[0]).toBeCloseTo(-2.5, 6); // R=0: (0 − 0.5)/0.2
    expect(out[1]).toBeCloseTo(2.5, 6); // R=255: (1 − 0.5)/0.2
  });

  it('meanstd, bgr, nhwc: mean/std are in the model input (BGR) order', () => {
    const out = toFloatTensorData(pixels, torch, 'bgr', 'nhwc');
    const f = (v: number, c: number) => (v / 255 - torch.mean[c]) / torch.std[c];
    expectClose(
      out,
      [0, 1, 2, 3].flatMap((p) => [f(B[p], 0), f(G[p], 1), f(R[p], 2)]),
    );
  });

  it('writes into a batch buffer at an offset without touching the rest', () => {
    const batch = new Float32Array(2 * 12).fill(99);
    const ret = toFloatTensorData(pixels, tf, 'rgb', 'nchw', batch, 12);
    expect(ret).toBe(batch);
    expect(Array.from(batch.subarray(0, 12))).toEqual(new Array(12).fill(99));
    expectClose(batch.subarray(12), [...R, ...G, ...B].map(s));
  });

  it('rejects sizes that do not fit', () => {
    expect(() => toFloatTensorData(pixels, tf, 'rgb', 'nhwc', new Float32Array(12), 1)).toThrow(RangeError);
    expect(() => toFloatTensorData(pixels.subarray(0, 5), tf, 'rgb', 'nhwc')).toThrow(/not RGB/);
    expect(() =>
      toFloatTensorData(pixels, { mode: 'meanstd', mean: [0, 0, 0], std: [1, 0, 1] }, 'rgb', 'nhwc'),
    ).toThrow(/std/);
  });
});
