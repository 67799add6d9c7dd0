import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Loads TF.js model artifacts (model.json + weight shards) from a local directory or an http(s) URL.
 * Pure @tensorflow/tfjs has no file:// loader in Node, so the artifacts are read here and handed
 * over from memory.
 */
export async function readModelArtifacts(modelPath: string): Promise<tf.io.ModelArtifacts> {
  const isHttp = /^https?:\/\//.test(modelPath);
  const read = async (p: string): Promise<Buffer> => {
    if (!isHttp) return readFile(p);
    const res = await fetch(p);
    if (!res.ok) throw new Error(`GET ${p}: HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  };
  const jsonPath = !isHttp && !modelPath.endsWith('.json') ? path.join(modelPath, 'model.json') : modelPath;
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse((await read(jsonPath)).toString('utf8'));
  } catch (err) {
    throw new Error(
      `Cannot read TF.js model ${jsonPath}: ${(err as Error).message}. Point the spec's "model" at a model.json.`,
    );
  }
  const base = isHttp ? jsonPath.slice(0, jsonPath.lastIndexOf('/') + 1) : `${path.dirname(jsonPath)}/`;
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: Buffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(await read(isHttp ? new URL(p, base).href : path.join(base, p)));
  }
  const all = Buffer.concat(shards);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    userDefinedMetadata: json.userDefinedMetadata,
    signature: json.signature,
    weightSpecs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
  };
}

/** Saves a LayersModel as model.json + weights.bin into `dir` (used for trained heads and tests). */
export async function saveLayersModel(model: tf.LayersModel, dir: string): Promise<void> {
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData as ArrayBuffer;
      await writeFile(path.join(dir, 'weights.bin'), Buffer.from(weightData));
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
}
