import path from 'node:path';
import { defaultEngine, defaultModelSpec, loadModelSpec, type ModelSpec } from '@embedcam/cam';

/**
 * A model as jobs refer to it: "default" (TF.js) / "default-onnx" (the shared MobileNetV2) or a spec path
 * that every worker can read (same path on each machine, e.g. baked into the image).
 */
export type ModelRef = string;

export function normalizeModelRef(ref: string | undefined, engine?: 'tfjs' | 'onnx'): ModelRef {
  if (!ref || ref === 'default') return (engine ?? defaultEngine()) === 'onnx' ? 'default-onnx' : 'default';
  if (ref === 'default-onnx') return ref;
  return path.resolve(ref);
}

export function resolveModelSpec(ref: ModelRef): Promise<ModelSpec> {
  if (ref === 'default') return Promise.resolve(defaultModelSpec('tfjs-layers'));
  if (ref === 'default-onnx') return Promise.resolve(defaultModelSpec('onnx'));
  return loadModelSpec(ref);
}
