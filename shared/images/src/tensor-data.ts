/**
 * How 0..255 pixel values become model inputs (mirrors the model spec's `input.preprocess`).
 * - scale:   v * scale + offset            (MobileNetV2/Inception: scale 1/127.5, offset -1)
 * - meanstd: (v / 255 - mean[c]) / std[c]  (torchvision: mean [0.485,0.456,0.406], std [0.229,0.224,0.225])
 * mean/std are indexed by the model's input channel, i.e. given in `channelOrder` order: for a
 * 'bgr' model write them B,G,R (as OpenCV's blobFromImage and Caffe model cards do).
 */
export type PixelPreprocess =
  | { mode: 'scale'; scale: number; offset: number }
  | { mode: 'meanstd'; mean: [number, number, number]; std: [number, number, number] };

export type ChannelOrder = 'rgb' | 'bgr';
export type TensorLayout = 'nhwc' | 'nchw';

/**
 * Converts one RGB HWC uint8 image to float model input, written at `out[outOffset…]` so a batch
 * can be filled in place (image i of a batch: outOffset = i * pixels.length). In 'nchw' the image
 * occupies three planes of width*height values. Returns `out` (allocated when not given).
 */
export function toFloatTensorData(
  pixels: Uint8Array,
  pre: PixelPreprocess,
  channelOrder: ChannelOrder,
  layout: TensorLayout,
  out?: Float32Array,
  outOffset = 0,
): Float32Array {
  if (pixels.length % 3 !== 0) {
    throw new RangeError(`toFloatTensorData: ${pixels.length} values is not RGB (×3)`);
  }
  const target = out ?? new Float32Array(pixels.length);
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + pixels.length > target.length) {
    throw new RangeError(
      `toFloatTensorData: ${pixels.length} values at offset ${outOffset} do not fit an output of ${target.length}`,
    );
  }
  if (pre.mode === 'meanstd' && pre.std.some((s) => !(s !== 0 && Number.isFinite(s)))) {
    throw new RangeError(`toFloatTensorData: std must be non-zero, got [${pre.std.join(', ')}]`);
  }
  // One 256-entry table per output channel: the formula is evaluated exactly as documented (no
  // algebraic refactoring that would shift results by an ulp) and the loop is a lookup.
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    for (let v = 0; v < 256; v++) {
      lut[c * 256 + v] =
        pre.mode === 'scale' ? v * pre.scale + pre.offset : (v / 255 - pre.mean[c]) / pre.std[c];
    }
  }
  const n = pixels.length / 3;
  // Output channel k reads source channel src[k].
  const src = channelOrder === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  for (let k = 0; k < 3; k++) {
    const s = src[k];
    const table = k * 256;
    if (layout === 'nchw') {
      const plane = outOffset + k * n;
      for (let p = 0; p < n; p++) target[plane + p] = lut[table + pixels[p * 3 + s]];
    } else {
      for (let p = 0; p < n; p++) target[outOffset + p * 3 + k] = lut[table + pixels[p * 3 + s]];
    }
  }
  return target;
}
