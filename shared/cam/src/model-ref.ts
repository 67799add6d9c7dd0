import path from 'node:path';
import { defaultEngine, defaultModelSpec, loadModelSpec, type ModelSpec } from './model-spec.js';

export type Engine = 'tfjs' | 'onnx';

/**
 * A model as runs and jobs refer to it: "default" (the embedded MobileNetV2 on TF.js),
 * "default-onnx" (the same on ONNX Runtime), or the absolute path of a spec that every worker can
 * read (the same path on each machine, e.g. baked into the image).
 */
export type ModelRef = string;

/** What a user typed (nothing, "default", or a spec path) → the reference runs and jobs carry. */
export function normalizeModelRef(ref: string | undefined, engine?: Engine): ModelRef {
  if (!ref || ref === 'default') return (engine ?? defaultEngine()) === 'onnx' ? 'default-onnx' : 'default';
  if (ref === 'default-onnx') return ref;
  return path.resolve(ref);
}

/**
 * The spec behind a normalized reference. "default" runs on TF.js unless the engine is ONNX
 * explicitly (a worker whose EMBEDCAM_ENGINE says onnx).
 */
export function resolveModelSpec(ref: ModelRef, engine?: Engine): Promise<ModelSpec> {
  if (ref === 'default') return Promise.resolve(defaultModelSpec(engine === 'onnx' ? 'onnx' : 'tfjs-layers'));
  if (ref === 'default-onnx') return Promise.resolve(defaultModelSpec('onnx'));
  return loadModelSpec(ref);
}

/** The one way every command and service turns a model reference into a spec. */
export async function resolveModel(
  ref: string | undefined,
  engine?: Engine,
): Promise<{ ref: ModelRef; spec: ModelSpec }> {
  const normalized = normalizeModelRef(ref, engine);
  return { ref: normalized, spec: await resolveModelSpec(normalized, engine) };
}
