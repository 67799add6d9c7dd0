import * as tf from '@tensorflow/tfjs';
import { type Backbone, type CamModel, camModel } from './cam-model.js';
import { UnsupportedModelError } from './errors.js';
import { GapDenseHead, LayerGraphHead, loadDenseWeights } from './head.js';
import { LayerSubgraph } from './layer-subgraph.js';
import type { ModelSpec } from './model-spec.js';
import { readModelArtifacts } from './tfjs-model-io.js';

/** What both TF.js backbones share: NHWC input of a fixed size on the current TF.js backend. */
abstract class TfjsBackbone implements Backbone {
  readonly inputLayout = 'nhwc' as const;

  constructor(
    protected readonly height: number,
    protected readonly width: number,
  ) {}

  get runtime(): string {
    return `tfjs-${tf.getBackend()}`;
  }

  protected input(data: Float32Array, n: number): tf.Tensor4D {
    return tf.tensor4d(data, [n, this.height, this.width, 3]);
  }

  abstract forward(input: Float32Array, n: number): Promise<tf.Tensor4D>;
  abstract dispose(): void;
}

/** Forward-only backbone over a (truncated) LayersModel. */
class LayersBackbone extends TfjsBackbone {
  constructor(
    private readonly model: tf.LayersModel,
    height: number,
    width: number,
  ) {
    super(height, width);
  }

  async forward(input: Float32Array, n: number): Promise<tf.Tensor4D> {
    return tf.tidy(() => this.model.predict(this.input(input, n)) as tf.Tensor4D);
  }

  dispose(): void {
    // The truncated model shares its layers (and weights) with the loaded model; CamModel disposes that.
  }
}

/** Forward-only backbone over a GraphModel, reading the target node. */
class GraphBackbone extends TfjsBackbone {
  constructor(
    private readonly model: tf.GraphModel,
    private readonly target: string,
    height: number,
    width: number,
  ) {
    super(height, width);
  }

  async forward(input: Float32Array, n: number): Promise<tf.Tensor4D> {
    const x = this.input(input, n);
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
 * Splits a LayersModel at the target layer: the backbone is input → A (forward only); the head is
 * the model's layers from A to the embedding layer (`model` heads) or to the pooled layer (`gap`
 * heads with a later `poolLayer`). Unsupported, with an error naming the layer: a layer after the
 * target that also takes a tensor computed before it (a skip connection around the target).
 */
export function splitLayersModel(
  model: tf.LayersModel,
  spec: ModelSpec,
): { backbone: tf.LayersModel; graph: LayerSubgraph | null } {
  const layer = (name: string, field: string) => {
    try {
      return model.getLayer(name);
    } catch {
      const names = model.layers.map((l) => l.name);
      throw new UnsupportedModelError(
        `${field} "${name}" is not in model ${spec.name}. Last layers: ${names.slice(-8).join(', ')}.`,
      );
    }
  };
  const target = layer(spec.targetLayer, 'Target layer');
  const targetOut = target.output as tf.SymbolicTensor;
  if (targetOut.shape.length !== 4) {
    throw new UnsupportedModelError(
      `Target layer "${spec.targetLayer}" outputs rank ${targetOut.shape.length}; it must be a conv activation [N,h,w,K].`,
    );
  }
  const backbone =
    target === model.layers.at(-1) ? model : tf.model({ inputs: model.inputs, outputs: targetOut });
  let end: tf.layers.Layer | null;
  if (spec.head.type === 'gap') {
    end =
      spec.head.poolLayer && spec.head.poolLayer !== spec.targetLayer
        ? layer(spec.head.poolLayer, 'head.poolLayer')
        : null;
  } else {
    end = spec.head.embeddingLayer
      ? layer(spec.head.embeddingLayer, 'head.embeddingLayer')
      : (model.outputs[0].sourceLayer as tf.layers.Layer);
  }
  if (!end) return { backbone, graph: null };
  const graph = new LayerSubgraph(model, targetOut, end.output as tf.SymbolicTensor, {
    target: spec.targetLayer,
    end: end.name,
  });
  return { backbone, graph };
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
    return camModel(spec, backbone, head);
  }
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  const { backbone: truncated, graph } = splitLayersModel(model, spec);
  const backbone = new LayersBackbone(truncated, height, width);
  let head: GapDenseHead | LayerGraphHead;
  if (spec.head.type === 'gap') {
    const pooled = (graph ? graph.to.shape : truncated.outputs[0].shape) as number[];
    const channels = pooled[pooled.length - 1];
    head = new GapDenseHead(channels, await loadDenseWeights(spec), spec.l2normalize, graph ?? undefined);
    if (head.layers[0] && head.layers[0].spec.inputDim !== channels) {
      throw new UnsupportedModelError(
        `head.dense[0].inputDim is ${head.layers[0].spec.inputDim} but the pooled layer has ${channels} channels.`,
      );
    }
  } else {
    const out = graph!.to.shape as number[];
    head = new LayerGraphHead(graph!, out[out.length - 1], spec.l2normalize);
  }
  return camModel(spec, backbone, head, model);
}

async function probeChannels(backbone: Backbone, spec: ModelSpec): Promise<number> {
  const a = await backbone.forward(new Float32Array(spec.input.width * spec.input.height * 3), 1);
  const k = a.shape[3];
  a.dispose();
  return k;
}
