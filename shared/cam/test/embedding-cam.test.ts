import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HAS_MODEL, MODEL_DIR } from '@embedcam/test-support/shared-data';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildProxySet,
  type CamModel,
  classPicker,
  defaultModelSpec,
  EmbeddingCam,
  encodeDenseWeights,
  initBackend,
  loadCamModel,
  type ProxyPicker,
  parseModelSpec,
  saveLayersModel,
  UnsupportedModelError,
} from '../src/index.js';
import { maxAbs, maxAbsDiff, normalised } from './map-compare.js';

const N = 4;
let tmp: string;
let input: Float32Array;

/** Deterministic pseudo-random proxies (one per image). */
const randomPicker: ProxyPicker = (_y, n, dim) =>
  Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 12.9898) * 0.5);

/** Plain Grad-CAM from raw gradients, for comparing against. */
async function camFromGradient(a: tf.Tensor4D, grad: tf.Tensor4D): Promise<Float32Array> {
  const cam = tf.tidy(() => tf.relu(tf.sum(tf.mul(a, tf.mean(grad, [1, 2], true)), 3)));
  const out = (await cam.data()) as Float32Array;
  cam.dispose();
  return out;
}

describe.skipIf(!HAS_MODEL)('EmbeddingCAM on the shared MobileNetV2 and real CUB images', () => {
  beforeAll(async () => {
    await initBackend();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-cam-'));
    const { loadCubBatch } = await import('@embedcam/test-support/cub-batch');
    input = await loadCubBatch(N);
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function compareClosedAndAutodiff(model: CamModel) {
    const a = await model.backbone.forward(input, N);
    try {
      const closed = await new EmbeddingCam(model, 'closed-form').explainActivations(a, randomPicker);
      const auto = await new EmbeddingCam(model, 'autodiff').explainActivations(a, randomPicker);
      expect(closed.gradient).toBe('closed-form');
      expect(auto.gradient).toBe('autodiff');
      expect(maxAbs(closed.maps)).toBeGreaterThan(0);
      expect(maxAbsDiff(closed.maps, auto.maps) / maxAbs(closed.maps)).toBeLessThan(1e-5);
      expect(maxAbsDiff(normalised(closed.maps, N), normalised(auto.maps, N))).toBeLessThan(1e-5);
    } finally {
      a.dispose();
    }
  }

  it('closed form and autodiff agree for GAP → L2 (the default spec)', async () => {
    const model = await loadCamModel(defaultModelSpec());
    expect(model.head.linear).not.toBeNull();
    await compareClosedAndAutodiff(model);
    model.dispose();
  });

  it('closed form and autodiff agree for GAP → dense (weights file beside the spec) → L2', async () => {
    const kernel = Float32Array.from({ length: 1280 * 64 }, (_, i) => Math.sin(i * 0.37) * 0.05);
    const bias = Float32Array.from({ length: 64 }, (_, i) => Math.cos(i) * 0.1);
    await writeFile(path.join(tmp, 'head.bin'), encodeDenseWeights([{ kernel, bias }]));
    const spec = parseModelSpec(
      {
        ...defaultModelSpec(),
        model: path.join(MODEL_DIR, 'model.json'),
        head: { type: 'gap', dense: [{ inputDim: 1280, outputDim: 64 }], weights: 'head.bin' },
        l2normalize: true,
      },
      tmp,
    );
    const model = await loadCamModel(spec);
    expect(model.head.dim).toBe(64);
    await compareClosedAndAutodiff(model);
    model.dispose();
  });

  it('a non-linear (MLP) head uses autodiff and refuses the closed form', async () => {
    const w = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.05);
    await writeFile(
      path.join(tmp, 'mlp.bin'),
      encodeDenseWeights([
        { kernel: w(1280 * 32), bias: w(32) },
        { kernel: w(32 * 8), bias: w(8) },
      ]),
    );
    const spec = parseModelSpec(
      {
        ...defaultModelSpec(),
        model: path.join(MODEL_DIR, 'model.json'),
        head: {
          type: 'gap',
          dense: [
            { inputDim: 1280, outputDim: 32, activation: 'relu' },
            { inputDim: 32, outputDim: 8 },
          ],
          weights: 'mlp.bin',
        },
      },
      tmp,
    );
    const model = await loadCamModel(spec);
    expect(model.head.linear).toBeNull();
    expect(() => new EmbeddingCam(model, 'closed-form')).toThrow(/closed form needs a GAP → linear head/);
    const out = await new EmbeddingCam(model).explain(input, N, randomPicker);
    expect(out.gradient).toBe('autodiff');
    expect(out.dim).toBe(8);
    model.dispose();
  });

  it('Grad-CAM equivalence: a classifier with one-hot proxies gives plain Grad-CAM (full-graph gradient)', async () => {
    // Classifier = shared backbone + GAP + dense(30) logits + softmax, saved and reloaded from disk.
    const base = await tf.loadLayersModel(
      tf.io.fromMemory(await (await import('../src/index.js')).readModelArtifacts(MODEL_DIR)),
    );
    const pooled = tf.layers
      .globalAveragePooling2d({ dataFormat: 'channelsLast' })
      .apply(base.outputs[0]) as tf.SymbolicTensor;
    const logits = tf.layers
      .dense({
        units: 30,
        name: 'logits',
        kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }),
        biasInitializer: 'randomNormal',
      })
      .apply(pooled) as tf.SymbolicTensor;
    const probs = tf.layers.softmax().apply(logits) as tf.SymbolicTensor;
    const classifier = tf.model({ inputs: base.inputs, outputs: probs });
    const dir = path.join(tmp, 'classifier');
    await saveLayersModel(classifier, dir);

    const spec = parseModelSpec(
      {
        name: 'cub-classifier',
        model: 'classifier/model.json',
        input: defaultModelSpec().input,
        targetLayer: 'out_relu',
        head: { type: 'model', embeddingLayer: 'logits' },
        l2normalize: false,
      },
      tmp,
    );
    const model = await loadCamModel(spec);
    const labels = [1, 5, 12, 30];
    const proxies = buildProxySet(
      labels.map((label, i) => ({ label, id: String(i), embedding: new Float32Array(30) })),
      { scheme: 'onehot', dim: 30, model: { name: spec.name }, dataset: { name: 't', source: 't' } },
    );
    const ours = await new EmbeddingCam(model, 'autodiff').explain(input, N, classPicker(proxies, labels));
    const oursClosed = await new EmbeddingCam(model, 'closed-form').explain(
      input,
      N,
      classPicker(proxies, labels),
    );

    // Reference Grad-CAM, written independently of the head split: run the WHOLE classifier graph
    // from the image, with a zero perturbation added at the target layer, and differentiate the
    // class logit with respect to that perturbation (= ∂logit/∂A).
    const x = tf.tensor4d(input, [N, 224, 224, 3]);
    const target = classifier.getLayer('out_relu');
    const values = new Map<number, tf.Tensor>();
    let activation: tf.Tensor4D | undefined;
    const runGraph = (eps: tf.Tensor) => {
      values.clear();
      values.set(classifier.inputs[0].id, x);
      for (const layer of classifier.layers) {
        if (layer.getClassName() === 'InputLayer') continue;
        const node = layer.inboundNodes.find((nd) => nd.inputTensors.every((t) => values.has(t.id)))!;
        const ins = node.inputTensors.map((t) => values.get(t.id)!);
        let out = layer.apply(ins.length === 1 ? ins[0] : ins) as tf.Tensor;
        if (layer === target) {
          activation = tf.keep(out.clone()) as tf.Tensor4D;
          out = tf.add(out, eps);
        }
        values.set(node.outputTensors[0].id, out);
      }
      return values.get((classifier.getLayer('logits').output as tf.SymbolicTensor).id)!;
    };
    const mask = tf.oneHot(
      labels.map((l) => l - 1),
      30,
    );
    const grad = tf.grad((eps: tf.Tensor) => tf.sum(tf.mul(runGraph(eps), mask)))(
      tf.zeros([N, 7, 7, 1280]),
    ) as tf.Tensor4D;
    const reference = await camFromGradient(activation!, grad);

    expect(maxAbs(reference)).toBeGreaterThan(0);
    expect(maxAbsDiff(ours.maps, reference)).toBeLessThan(1e-5);
    expect(maxAbsDiff(normalised(ours.maps, N), normalised(reference, N))).toBeLessThan(1e-5);
    // The classifier's GAP → dense head is detected as linear: the closed form matches too.
    expect(oursClosed.gradient).toBe('closed-form');
    expect(maxAbsDiff(normalised(oursClosed.maps, N), normalised(reference, N))).toBeLessThan(1e-5);
    // Scores are the class logits.
    const logitsRef = (await runGraph(tf.zeros([N, 7, 7, 1280])).data()) as Float32Array;
    for (const [i, l] of labels.entries()) expect(ours.scores[i]).toBeCloseTo(logitsRef[i * 30 + l - 1], 4);
    model.dispose();
  });

  it('an earlier 14×14 target layer for the same embedding: residual blocks run inside the head', async () => {
    const spec = parseModelSpec(
      {
        ...defaultModelSpec(),
        model: path.join(MODEL_DIR, 'model.json'),
        targetLayer: 'block_13_expand_relu',
        head: { type: 'gap', poolLayer: 'out_relu' },
      },
      tmp,
    );
    const model = await loadCamModel(spec);
    expect(model.head.linear).toBeNull();
    const base = await loadCamModel(defaultModelSpec());
    const early = await new EmbeddingCam(model).explain(input, N, randomPicker);
    expect([early.height, early.width]).toEqual([14, 14]);
    expect(early.gradient).toBe('autodiff');
    expect(maxAbs(early.maps)).toBeGreaterThan(0);
    // Same embedding as the default model (GAP of out_relu), computed through blocks 13–16.
    const y = await new EmbeddingCam(base).embed(input, N);
    expect(maxAbsDiff(early.embeddings, y)).toBeLessThan(1e-4);
    model.dispose();
    base.dispose();
  });

  it('rejects a head with a skip connection around the target layer, naming the layer', async () => {
    const inp = tf.input({ shape: [8, 8, 3] });
    const c1 = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c1' })
      .apply(inp) as tf.SymbolicTensor;
    const c2 = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'target' })
      .apply(c1) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'skip_add' }).apply([c1, c2]) as tf.SymbolicTensor;
    const out = tf.layers.globalAveragePooling2d({}).apply(sum) as tf.SymbolicTensor;
    await saveLayersModel(tf.model({ inputs: inp, outputs: out }), path.join(tmp, 'skip'));
    const spec = parseModelSpec(
      {
        name: 'skip',
        model: 'skip/model.json',
        input: { width: 8, height: 8, preprocess: { mode: 'scale', scale: 1, offset: 0 } },
        targetLayer: 'target',
        head: { type: 'model' },
      },
      tmp,
    );
    await expect(loadCamModel(spec)).rejects.toThrow(UnsupportedModelError);
    await expect(loadCamModel(spec)).rejects.toThrow(
      /Layer "skip_add" between target "target" .*skip connection around it/,
    );
    await expect(loadCamModel({ ...spec, targetLayer: 'nope' })).rejects.toThrow(
      /Target layer "nope" is not in model skip/,
    );
  });
});

describe('model spec validation', () => {
  it('names the wrong field', () => {
    expect(() =>
      parseModelSpec({ name: 'x', model: 'm.json', input: { width: -1 } }, '/tmp', 'spec.json'),
    ).toThrow(/Model spec spec\.json: .*input\.width/);
    expect(() =>
      parseModelSpec(
        {
          name: 'x',
          model: 'm.json',
          input: { width: 2, height: 2, preprocess: { mode: 'scale', scale: 1, offset: 0 } },
          targetLayer: 't',
          head: { type: 'gap', dense: [{ inputDim: 4, outputDim: 2 }] },
        },
        '/tmp',
      ),
    ).toThrow(/head\.weights/);
  });
});
