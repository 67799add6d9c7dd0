import {
  type CamModel,
  EmbeddingCam,
  LayerSubgraph,
  loadCamModel,
  type ProxyPicker,
  resolveModelSpec,
} from '@embedcam/cam';
import { upsampleNormalized } from '@embedcam/metrics';
import { loadCubBatch } from '@embedcam/test-support/cub-batch';
import * as tf from '@tensorflow/tfjs';
import { median, seconds } from './support.js';

export interface ComputeRow {
  engine: string;
  batch: number;
  forwardPerSec: number;
  heatmapsPerSec: number;
  ratio: number;
  /** Raw CAMs at the target layer's resolution (no upsampling/normalisation): the gradient's own cost. */
  rawCamsPerSec: number;
  rawRatio: number;
}

const picker: ProxyPicker = (y) => y.slice(); // explain each image against its own embedding direction

/** Upsampling + normalisation: the part of a heatmap after the CAM itself. */
function finish(maps: Float32Array, n: number, h: number, w: number) {
  for (let i = 0; i < n; i++) upsampleNormalized(maps.subarray(i * h * w, (i + 1) * h * w), w, h, 224, 224);
}

/**
 * Forward-only (the embedding) against full heatmaps (forward + head gradient + CAM + upsampling),
 * measured side by side: each repeat times both on the same batch.
 */
export async function benchCompute(opts: {
  batches: number[];
  repeats: number;
  images: number;
  engines?: Array<'tfjs' | 'onnx'>;
}): Promise<ComputeRow[]> {
  const nhwc = await loadCubBatch(opts.images, 'nhwc');
  const nchw = await loadCubBatch(opts.images, 'nchw');
  const rows: ComputeRow[] = [];
  for (const engine of opts.engines ?? (['tfjs', 'onnx'] as const)) {
    const model = await loadCamModel(await resolveModelSpec('default', engine), { engine });
    const cam = new EmbeddingCam(model);
    const data = model.backbone.inputLayout === 'nchw' ? nchw : nhwc;
    for (const batch of opts.batches) {
      const size = 224 * 224 * 3;
      const chunks = Math.max(1, Math.floor(opts.images / batch));
      const input = (i: number) =>
        data.subarray((i % chunks) * batch * size, ((i % chunks) + 1) * batch * size);
      const per = Math.max(2, Math.ceil(32 / batch)); // batches per timing, ≥ 32 images
      await cam.embed(input(0), batch);
      await cam.explain(input(0), batch, picker);
      const fwd: number[] = [];
      const cams: number[] = [];
      const raws: number[] = [];
      for (let r = 0; r < opts.repeats; r++) {
        fwd.push(
          (per * batch) /
            (await seconds(async () => {
              for (let i = 0; i < per; i++) await cam.embed(input(i), batch);
            })),
        );
        cams.push(
          (per * batch) /
            (await seconds(async () => {
              for (let i = 0; i < per; i++) {
                const out = await cam.explain(input(i), batch, picker);
                finish(out.maps, batch, out.height, out.width);
              }
            })),
        );
        raws.push(
          (per * batch) /
            (await seconds(async () => {
              for (let i = 0; i < per; i++) await cam.explain(input(i), batch, picker);
            })),
        );
      }
      const f = median(fwd);
      const h = median(cams);
      const raw = median(raws);
      rows.push({
        engine: model.backbone.runtime,
        batch,
        forwardPerSec: f,
        heatmapsPerSec: h,
        ratio: h / f,
        rawCamsPerSec: raw,
        rawRatio: raw / f,
      });
    }
    model.dispose();
  }
  return rows;
}

export interface NaiveRow {
  batch: number;
  oursPerSec: number;
  naivePerSec: number;
  /** How many times faster ours is. */
  speedup: number;
}

/**
 * A naive Grad-CAM as common Python libraries do it: the whole network runs with gradient tracking
 * and the backward pass goes through every backbone layer to the input (here without parameter
 * gradients — the WebAssembly backend has no filter-gradient kernel — so this understates the
 * waste of libraries that also compute those).
 */
export async function benchNaive(opts: { batch: number; repeats: number }): Promise<NaiveRow> {
  const spec = await resolveModelSpec('default', 'tfjs');
  const model: CamModel = await loadCamModel(spec);
  const cam = new EmbeddingCam(model, 'autodiff');
  const { batch } = opts;
  const input = await loadCubBatch(batch, 'nhwc');
  const full = await (await import('@embedcam/cam')).readModelArtifacts(spec.modelPath);
  const layers = await tf.loadLayersModel(tf.io.fromMemory(full));
  const target = layers.getLayer(spec.targetLayer).output as tf.SymbolicTensor;
  const wholeBackbone = new LayerSubgraph(layers, layers.inputs[0], target, {
    target: 'input',
    end: spec.targetLayer,
  });
  const naive = async () => {
    const maps = tf.tidy(() => {
      const x = tf.tensor4d(input, [batch, 224, 224, 3]);
      const y0 = model.head.apply(wholeBackbone.apply(x) as tf.Tensor4D);
      const p = tf.tensor2d(picker(y0.dataSync() as Float32Array, batch, y0.shape[1]), y0.shape);
      let a: tf.Tensor4D | undefined;
      const [, gA] = tf.grads((xs: tf.Tensor, eps: tf.Tensor) => {
        a = tf.keep(wholeBackbone.apply(xs) as tf.Tensor4D);
        return tf.sum(tf.mul(model.head.apply(tf.add(a, eps) as tf.Tensor4D), p));
      })([x, tf.zeros(target.shape.map((d, i) => (i === 0 ? batch : (d as number))))]);
      const alpha = tf.mean(gA, [1, 2]);
      const cam = tf.relu(tf.sum(tf.mul(a!, tf.reshape(alpha, [batch, 1, 1, -1])), 3));
      a!.dispose();
      return cam;
    });
    await maps.data();
    maps.dispose();
  };
  const ours = async () => {
    await cam.explain(input, batch, picker);
  };
  await naive();
  await ours();
  const o: number[] = [];
  const n: number[] = [];
  for (let r = 0; r < opts.repeats; r++) {
    o.push(batch / (await seconds(ours)));
    n.push(batch / (await seconds(naive)));
  }
  model.dispose();
  layers.dispose();
  const oursPerSec = median(o);
  const naivePerSec = median(n);
  return { batch, oursPerSec, naivePerSec, speedup: oursPerSec / naivePerSec };
}
