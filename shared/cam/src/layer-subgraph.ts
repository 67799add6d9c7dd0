import * as tf from '@tensorflow/tfjs';
import { UnsupportedModelError } from './errors.js';

/**
 * The part of a LayersModel between the target layer's output and a later layer's output, as an
 * eagerly executable (and so differentiable) function of the target activation. Residual blocks
 * inside it are fine; what is unsupported is a layer that also needs a tensor computed *before*
 * the target (a skip connection around it) — the error names that layer.
 */
export class LayerSubgraph {
  /** Layers in execution (topological) order, each with the node to run. */
  private readonly steps: Array<{ layer: tf.layers.Layer; inputs: number[]; output: number }>;

  constructor(
    model: tf.LayersModel,
    private readonly from: tf.SymbolicTensor,
    readonly to: tf.SymbolicTensor,
    names: { target: string; end: string },
  ) {
    const nodeOf = (t: tf.SymbolicTensor) => {
      const layer = t.sourceLayer as tf.layers.Layer;
      return { layer, node: layer.inboundNodes[t.nodeIndex ?? 0] ?? layer.inboundNodes[0] };
    };
    // Does tensor t depend on the target activation? (memoised walk towards the inputs)
    const memo = new Map<number, boolean>();
    const dependsOnTarget = (t: tf.SymbolicTensor): boolean => {
      if (t.id === from.id) return true;
      const known = memo.get(t.id);
      if (known !== undefined) return known;
      const { layer, node } = nodeOf(t);
      const result =
        layer.getClassName() !== 'InputLayer' &&
        node.inputTensors.some((i) => dependsOnTarget(i as tf.SymbolicTensor));
      memo.set(t.id, result);
      return result;
    };
    if (!dependsOnTarget(to)) {
      throw new UnsupportedModelError(
        `Layer "${names.end}" does not depend on target layer "${names.target}".`,
      );
    }
    const needed = new Set<tf.layers.Layer>();
    const visit = (t: tf.SymbolicTensor) => {
      if (t.id === from.id) return;
      const { layer, node } = nodeOf(t);
      if (needed.has(layer)) return;
      needed.add(layer);
      for (const input of node.inputTensors as tf.SymbolicTensor[]) {
        if (!dependsOnTarget(input)) {
          throw new UnsupportedModelError(
            `Layer "${layer.name}" between target "${names.target}" and "${names.end}" also takes an input from before the target ` +
              '(a skip connection around it): the head must depend on the target activation only. Pick a later target layer.',
          );
        }
        visit(input);
      }
    };
    visit(to);
    this.steps = model.layers
      .filter((l) => needed.has(l))
      .map((layer) => {
        const out = (
          layer.inboundNodes.length === 1 ? layer.output : layer.getOutputAt(0)
        ) as tf.SymbolicTensor;
        const node = layer.inboundNodes[0];
        return { layer, inputs: node.inputTensors.map((t) => t.id), output: out.id };
      });
  }

  /** The layers the subgraph runs, in order. */
  get layers(): tf.layers.Layer[] {
    return this.steps.map((s) => s.layer);
  }

  apply(a: tf.Tensor): tf.Tensor {
    const values = new Map<number, tf.Tensor>([[this.from.id, a]]);
    for (const s of this.steps) {
      const ins = s.inputs.map((id) => values.get(id)!);
      values.set(s.output, applyLayer(s.layer, ins));
    }
    return values.get(this.to.id)!;
  }
}

/**
 * Runs one layer eagerly. Conv2D is re-expressed with the plain (unfused) op: the fused op's
 * gradient computes the filter gradient eagerly — a wasted backward pass over the weights, and a
 * kernel the WebAssembly backend does not have. Everything else uses the layer itself.
 */
function applyLayer(layer: tf.layers.Layer, ins: tf.Tensor[]): tf.Tensor {
  if (layer.getClassName() === 'Conv2D') {
    const c = layer.getConfig() as {
      strides: [number, number];
      padding: 'valid' | 'same';
      dilationRate: [number, number] | number;
      dataFormat: string;
      activation: string;
      useBias: boolean;
    };
    if (c.dataFormat === 'channelsLast' && (c.activation === 'linear' || c.activation === 'relu')) {
      const [kernel, bias] = layer.getWeights();
      let y: tf.Tensor = tf.conv2d(
        ins[0] as tf.Tensor4D,
        kernel as tf.Tensor4D,
        c.strides,
        c.padding,
        'NHWC',
        c.dilationRate as [number, number],
      );
      if (c.useBias && bias) y = tf.add(y, bias);
      return c.activation === 'relu' ? tf.relu(y) : y;
    }
  }
  return layer.apply(ins.length === 1 ? ins[0] : ins, { training: false }) as tf.Tensor;
}
