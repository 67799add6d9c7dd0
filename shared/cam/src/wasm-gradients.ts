import * as tf from '@tensorflow/tfjs';

/**
 * The WebAssembly backend lacks the input-gradient kernel of depthwise convolutions, which a head
 * containing MobileNet blocks (an earlier target layer) needs. This registers a plain JS version
 * for 'wasm' when it is missing. Only the gradient with respect to the input is provided: embedcam
 * never computes parameter gradients.
 */
export function ensureHeadGradientKernels(): void {
  if (tf.getKernel('DepthwiseConv2dNativeBackpropInput', 'wasm')) return;
  if (!tf.findBackend('wasm')) return;
  tf.registerKernel({
    kernelName: 'DepthwiseConv2dNativeBackpropInput',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as {
        strides: [number, number] | number;
        dilations: [number, number] | number;
        pad: 'valid' | 'same' | number;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
        inputShape: [number, number, number, number];
      };
      const wasm = backend as unknown as {
        readSync(id: tf.DataId): Float32Array;
        makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
        typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
      };
      const info = tf.backend_util.computeConv2DInfo(
        inputShape,
        filter.shape as [number, number, number, number],
        strides,
        dilations ?? 1,
        pad,
        dimRoundingMode,
        true,
      );
      const dyv = wasm.readSync(dy.dataId);
      const w = wasm.readSync(filter.dataId);
      const out = wasm.makeOutput(inputShape, 'float32');
      const dx = wasm.typedArrayFromHeap(out);
      dx.fill(0);
      depthwiseBackpropInput(dx, dyv, w, info);
      return out;
    },
  });
}

/** dx[b, oh·s + kh·d − pad, ow·s + kw·d − pad, c] += dy[b, oh, ow, c·M + m] · w[kh, kw, c, m]. */
export function depthwiseBackpropInput(
  dx: Float32Array,
  dy: Float32Array,
  w: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const mult = outChannels / inChannels;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh * dilationHeight - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw * dilationWidth - left;
            if (iw < 0 || iw >= inWidth) continue;
            const dxBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wBase = (kh * filterWidth + kw) * inChannels * mult;
            for (let c = 0; c < inChannels; c++) {
              let s = 0;
              for (let m = 0; m < mult; m++) s += dy[dyBase + c * mult + m] * w[wBase + c * mult + m];
              dx[dxBase + c] += s;
            }
          }
        }
      }
    }
  }
}
