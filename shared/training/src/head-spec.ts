import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeDenseWeights, type ModelSpec, type ModelSpecInput } from '@embedcam/cam';
import type { DenseLayer } from './train-head.js';

export const HEAD_WEIGHTS_FILE = 'head.bin';

/**
 * The model spec of backbone + trained head: the backbone's input, target layer and model file
 * (a path relative to the spec's directory), `head: { type: 'gap', dense, weights: 'head.bin' }`,
 * L2-normalised output — what loadModelSpec / loadCamModel read, and so every command accepts.
 */
export function headSpecJson(
  backbone: ModelSpec,
  layers: readonly DenseLayer[],
  outDir: string,
  name: string,
): ModelSpecInput {
  if (backbone.head.type !== 'gap') throw new Error(`Backbone ${backbone.name} has no gap head.`);
  const { dense: _d, weights: _w, ...gap } = backbone.head;
  const model = path.relative(path.resolve(outDir), backbone.modelPath).split(path.sep).join('/');
  return {
    name,
    model,
    format: backbone.format,
    input: backbone.input,
    targetLayer: backbone.targetLayer,
    head: {
      ...gap,
      type: 'gap',
      dense: layers.map((l) => ({
        inputDim: l.inputDim,
        outputDim: l.outputDim,
        bias: true,
        activation: l.activation,
      })),
      weights: HEAD_WEIGHTS_FILE,
    },
    l2normalize: true,
  };
}

/** Writes `<outDir>/spec.json` and `<outDir>/head.bin`; returns the spec path. */
export async function writeHeadSpec(
  backbone: ModelSpec,
  layers: readonly DenseLayer[],
  outDir: string,
  name: string,
): Promise<string> {
  await mkdir(outDir, { recursive: true });
  const spec = headSpecJson(backbone, layers, outDir, name);
  await writeFile(path.join(outDir, HEAD_WEIGHTS_FILE), encodeDenseWeights(layers.map((l) => l)));
  const specPath = path.join(path.resolve(outDir), 'spec.json');
  await writeFile(specPath, `${JSON.stringify(spec, null, 2)}\n`);
  return specPath;
}
