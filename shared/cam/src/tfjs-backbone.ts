import * as tf from '@tensorflow/tfjs';
import type { Backbone, CamModel } from './cam-model.js';
import { UnsupportedModelError } from './cam-model.js';
import { GapDenseHead, LayerChainHead, loadDenseWeights } from './head.js';
import type { ModelSpec } from './model-spec.js';
import { readModelArtifacts } from './tfjs-model-io.js';

/** Forward-only backbone over a (truncated) LayersModel. */
class LayersBackbone implements Backbone {
  readonly inputLayout = 'nhwc' as const;

  constructor(
    private readonly model: tf.LayersModel,
    private readonly height: number,
    private readonly width: number,
  ) {}

  get runtime(): string {
    return `tfjs-${tf.getBackend()}`;
  }

  async forward(input: Float32Array, n: number): Promise<tf.Tensor4D> {
    return tf.tidy(() => {
      const x = tf.tensor4d(input, [n, this.height, this.width, 3]);
      return this.model.predict(x) as tf.Tensor4D;
    });
  }

  dispose(): void {
    // The truncated model shares its layers (and weights) with the loaded model; CamModel disposes that.
  }
}

/** Forward-only backbone over a GraphModel, reading the target node. */
class GraphBackbone implements Backbone {
  readonly inputLayout = 'nhwc' as const;

  constructor(
    private readonly model: tf.GraphModel,
    private readonly target: string,
    private readonly height: number,
    private readonly width: number,
  ) {}

  get runtime(): string {
    return `tfjs-${tf.getBackend()}`;
  }

  async forward(input: Float32Array, n: number): Promise<tf.Tensor4D> {
    const x = tf.tensor4d(input, [n, this.height, this.width, 3]);
    try {
      const a = (await this.model.executeAsync(x, this.target)) as tf.Tensor;
      if (a.rank !== 4) {
        a.dispose();
        throw new UnsupportedModelError(
          `Graph node "${this.target}" has rank ${a.rank}; the target must be a [N,h,w,K] activation.`,
        );
      }
      return a as tf.Tensor4D;
    } finally {
      x.dispose();
    }
  }

  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Splits a LayersModel at the target layer: the backbone is input → A; the head is the chain of
 * layers from A to the embedding layer. Unsupported (with a clear error): a head that is not a
 * single chain — e.g. a skip connection from before the target into the head, or a layer with
 * several inputs after the target. Choose a later target layer for such models.
 */
export function splitLayersModel(
  model: tf.LayersModel,
  spec: ModelSpec,
): { backbone: tf.LayersModel; chain: tf.layers.Layer[] } {
  let target: tf.layers.Layer;
  try {
    target = model.getLayer(spec.targetLayer);
  } catch {
    const names = model.layers.map((l) => l.name);
    throw new UnsupportedModelError(
      `Target layer "${spec.targetLayer}" is not in model ${spec.name}. Last layers: ${names.slice(-8).join(', ')}.`,
    );
  }
  const targetOut = target.output as tf.SymbolicTensor;
  if (targetOut.shape.length !== 4) {
    throw new UnsupportedModelError(
      `Target layer "${spec.targetLayer}" outputs rank ${targetOut.shape.length}; it must be a conv activation [N,h,w,K].`,
    );
  }
  if (spec.head.type === 'gap') {
    const backbone =
      target === model.layers.at(-1) ? model : tf.model({ inputs: model.inputs, outputs: targetOut });
    return { backbone, chain: [] };
  }
  const embLayer = spec.head.embeddingLayer
    ? model.getLayer(spec.head.embeddingLayer)
    : (model.outputs[0].sourceLayer as tf.layers.Layer);
  const chain: tf.layers.Layer[] = [];
  let cur = embLayer.output as tf.SymbolicTensor;
  while (cur !== targetOut) {
    const layer = cur.sourceLayer as tf.layers.Layer;
    if (layer === target) break;
    const inbound = layer.inboundNodes;
    const inputs = inbound.length === 1 ? inbound[0].inputTensors : [];
    if (inbound.length !== 1 || inputs.length !== 1) {
      throw new UnsupportedModelError(
        `Layer "${layer.name}" between target "${spec.targetLayer}" and the embedding has ${inputs.length || inbound.length} inputs: ` +
          'the head must be a single chain of layers after the target (no skip connections around it). Pick a later target layer.',
      );
    }
    if (layer.getClassName() === 'InputLayer') {
      throw new UnsupportedModelError(
        `Embedding layer "${embLayer.name}" does not depend on target layer "${spec.targetLayer}".`,
      );
    }
    chain.unshift(layer);
    cur = inputs[0] as tf.SymbolicTensor;
  }
  return { backbone: tf.model({ inputs: model.inputs, outputs: targetOut }), chain };
}

export async function loadTfjsCamModel(spec: ModelSpec): Promise<CamModel> {
  const artifacts = await readModelArtifacts(spec.modelPath);
  const { width, height } = spec.input;
  if (spec.format === 'tfjs-graph') {
    if (spec.head.type !== 'gap')
      throw new UnsupportedModelError(
        'GraphModels need head.type "gap" (a graph cannot be split into layers).',
      );
    const graph = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    const backbone = new GraphBackbone(graph, spec.targetLayer, height, width);
    const channels = await probeChannels(backbone, spec);
    const head = new GapDenseHead(channels, await loadDenseWeights(spec), spec.l2normalize);
    return {
      spec,
      backbone,
      head,
      dispose: () => {
        backbone.dispose();
        head.dispose();
      },
    };
  }
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const { backbone: truncated, chain } = splitLayersModel(model, spec);
  const backbone = new LayersBackbone(truncated, height, width);
  const channels = (truncated.outputs[0].shape as number[])[3];
  let head: GapDenseHead | LayerChainHead;
  if (spec.head.type === 'gap') {
    head = new GapDenseHead(channels, await loadDenseWeights(spec), spec.l2normalize);
    if (head.layers[0] && head.layers[0].spec.inputDim !== channels) {
      throw new UnsupportedModelError(
        `head.dense[0].inputDim is ${head.layers[0].spec.inputDim} but "${spec.targetLayer}" has ${channels} channels.`,
      );
    }
  } else {
    const out = chain.at(-1)!.outputShape as number[];
    head = new LayerChainHead(chain, out[out.length - 1], spec.l2normalize);
  }
  return {
    spec,
    backbone,
    head,
    dispose: () => {
      head.dispose();
      model.dispose();
    },
  };
}

async function probeChannels(backbone: Backbone, spec: ModelSpec): Promise<number> {
  const a = await backbone.forward(new Float32Array(spec.input.width * spec.input.height * 3), 1);
  const k = a.shape[3];
  a.dispose();
  return k;
}
