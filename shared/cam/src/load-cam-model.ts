import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend } from './backend.js';
import type { CamModel } from './cam-model.js';
import type { ModelSpec } from './model-spec.js';
import { loadOnnxCamModel, type OnnxExecutionProvider } from './onnx-backbone.js';
import { loadTfjsCamModel } from './tfjs-backbone.js';
import { ensureHeadGradientKernels } from './wasm-gradients.js';

export type EngineName = 'tfjs' | 'onnx';

export interface LoadOptions {
  /** Forces the runtime for the backbone; default from the model format. */
  engine?: EngineName;
  tfBackend?: string;
  /**
   * ONNX engine: intra-op threads per session. Default EMBEDCAM_ONNX_THREADS, else 1 (the pipeline
   * runs one compute thread per core, each with its own session).
   */
  onnxThreads?: number;
  /**
   * ONNX engine: execution providers in order of preference, default ['cpu']. 'cuda' is untested
   * here (the CUDA provider libraries are not in the npm package); if creating the session with it
   * fails, the engine warns and falls back to CPU.
   */
  executionProviders?: OnnxExecutionProvider[];
}

/** Loads a model for EmbeddingCAM, picking the runtime from the model format (or `engine`). */
export async function loadCamModel(spec: ModelSpec, opts: LoadOptions = {}): Promise<CamModel> {
  await initBackend(opts.tfBackend);
  ensureHeadGradientKernels();
  const engine = opts.engine ?? (spec.format === 'onnx' ? 'onnx' : 'tfjs');
  if (engine === 'onnx') {
    if (spec.format !== 'onnx')
      throw new Error(`Engine "onnx" needs an .onnx model; ${spec.name} is ${spec.format}.`);
    return loadOnnxCamModel(spec, { threads: opts.onnxThreads, executionProviders: opts.executionProviders });
  }
  if (spec.format === 'onnx')
    throw new Error(`Engine "tfjs" cannot run ${spec.modelPath}: it is an ONNX model. Use engine "onnx".`);
  return loadTfjsCamModel(spec);
}

/**
 * Identifies the weights a result depends on: the spec's content plus the model and head files.
 * Proxies built with one fingerprint are refused by a model with another.
 */
export async function modelFingerprint(spec: ModelSpec): Promise<string> {
  const h = createHash('sha256');
  const { specPath: _s, modelPath, weightsPath, ...content } = spec;
  h.update(JSON.stringify(content));
  const files: string[] = [];
  if (spec.format === 'onnx') files.push(modelPath);
  else {
    const jsonPath = modelPath.endsWith('.json') ? modelPath : path.join(modelPath, 'model.json');
    files.push(jsonPath);
    const json = JSON.parse(await readFile(jsonPath, 'utf8'));
    for (const g of json.weightsManifest ?? [])
      for (const p of g.paths) files.push(path.join(path.dirname(jsonPath), p));
  }
  if (weightsPath) files.push(weightsPath);
  for (const f of files) h.update(await readFile(f));
  return h.digest('hex').slice(0, 16);
}
