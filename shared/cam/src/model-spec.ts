import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { formatIssues } from '@embedcam/validation';
import { z } from 'zod';

const preprocessSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('scale'), scale: z.number(), offset: z.number() }),
  z.object({
    mode: z.literal('meanstd'),
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
  }),
]);

const denseLayerSchema = z.object({
  inputDim: z.number().int().positive(),
  outputDim: z.number().int().positive(),
  bias: z.boolean().default(true),
  activation: z.enum(['linear', 'relu']).default('linear'),
});

/**
 * How the embedding is computed from the target activation A.
 * - `gap`: y = [dense…](GAP(A)); the dense weights live in a float32 file beside the spec
 *   (for each layer: kernel inputDim×outputDim row-major, then bias).
 * - `model`: y is a layer of the model itself (default: its output); the layers between the target
 *   layer and that output may contain residual blocks, but none may take an input from before the
 *   target (a skip connection around it).
 */
const headSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('gap'),
    /**
     * The layer whose activation is pooled (default: the target layer). Set it to explain an
     * earlier, higher-resolution target layer for the same embedding (TF.js layers models only).
     */
    poolLayer: z.string().optional(),
    dense: z.array(denseLayerSchema).default([]),
    weights: z.string().optional(),
  }),
  z.object({ type: z.literal('model'), embeddingLayer: z.string().optional() }),
]);

export const modelSpecSchema = z.object({
  name: z.string().min(1),
  /** Model file (model.json or .onnx), relative to the spec file. */
  model: z.string().min(1),
  format: z.enum(['tfjs-layers', 'tfjs-graph', 'onnx']).optional(),
  input: z.object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
    preprocess: preprocessSchema,
    /** ONNX input tensor name (TF.js models have one input). */
    name: z.string().optional(),
  }),
  /** TF.js: layer (or graph node) name; ONNX: output name of the target activation. */
  targetLayer: z.string().min(1),
  /** ONNX only: output name of the embedding, when the graph exports it (saves recomputing the head). */
  embeddingOutput: z.string().optional(),
  head: headSchema,
  l2normalize: z.boolean().default(false),
});

export type ModelSpecInput = z.input<typeof modelSpecSchema>;
export type ModelSpec = z.output<typeof modelSpecSchema> & {
  format: 'tfjs-layers' | 'tfjs-graph' | 'onnx';
  /** Absolute paths, resolved against the spec's directory. */
  modelPath: string;
  weightsPath?: string;
  specPath?: string;
};
export type Preprocess = z.infer<typeof preprocessSchema>;
export type DenseLayerSpec = z.output<typeof denseLayerSchema>;

export class ModelSpecError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`Model spec ${source}: ${message}`);
    this.name = 'ModelSpecError';
  }
}

/** Validates a spec object; relative paths resolve against `baseDir`. */
export function parseModelSpec(raw: unknown, baseDir: string, source = '<inline>'): ModelSpec {
  const parsed = modelSpecSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error);
    throw new ModelSpecError(source, `${issues}. See README "Model specs" for the expected fields.`);
  }
  const spec = parsed.data;
  const modelPath = path.resolve(baseDir, spec.model);
  const format = spec.format ?? (modelPath.endsWith('.onnx') ? 'onnx' : 'tfjs-layers');
  if (spec.head.type === 'gap') {
    let prev: number | undefined;
    for (const [i, layer] of spec.head.dense.entries()) {
      if (prev !== undefined && layer.inputDim !== prev) {
        throw new ModelSpecError(
          source,
          `head.dense[${i}].inputDim is ${layer.inputDim} but the previous layer outputs ${prev}.`,
        );
      }
      prev = layer.outputDim;
    }
    if (spec.head.dense.length > 0 && !spec.head.weights) {
      throw new ModelSpecError(
        source,
        'head.dense is set but head.weights (the float32 weights file) is missing.',
      );
    }
  }
  if (
    format !== 'tfjs-layers' &&
    spec.head.type === 'gap' &&
    spec.head.poolLayer &&
    spec.head.poolLayer !== spec.targetLayer
  ) {
    throw new ModelSpecError(
      source,
      'head.poolLayer needs a TF.js layers model (the layers after the target run in TF.js).',
    );
  }
  if (format === 'onnx' && spec.head.type === 'model') {
    throw new ModelSpecError(
      source,
      'ONNX models need head.type "gap" (the head is differentiated in TF.js).',
    );
  }
  const weightsPath =
    spec.head.type === 'gap' && spec.head.weights ? path.resolve(baseDir, spec.head.weights) : undefined;
  return { ...spec, format, modelPath, weightsPath, specPath: source.startsWith('<') ? undefined : source };
}

export async function loadModelSpec(specPath: string): Promise<ModelSpec> {
  const abs = path.resolve(specPath);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new ModelSpecError(
      abs,
      `cannot read the file (${(err as NodeJS.ErrnoException).code ?? err}); pass --model <spec.json>.`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelSpecError(abs, `is not valid JSON (${(err as Error).message}).`);
  }
  return parseModelSpec(raw, path.dirname(abs), abs);
}

/** Where the shared reference data lives: EMBEDCAM_SHARED_DIR, else `../shared` beside the repository. */
export function sharedDir(): string {
  return process.env.EMBEDCAM_SHARED_DIR ?? path.resolve(import.meta.dirname, '../../../../shared');
}

/**
 * The default model's ONNX file travels with embedcam (`shared/cam/models/…`, copied beside the
 * bundle in the package), so every machine has a default model; the TF.js copy is in `../shared` only.
 */
export function bundledModelDir(): string {
  return path.resolve(import.meta.dirname, '../models/mobilenetv2-035-imagenet');
}

/**
 * The runtime for the embedded default model: EMBEDCAM_ENGINE when set, else ONNX Runtime (its
 * model.onnx is bundled; about 7× faster on CPU than TF.js WebAssembly).
 */
export function defaultEngine(): 'tfjs' | 'onnx' {
  const forced = process.env.EMBEDCAM_ENGINE;
  if (forced === 'tfjs' || forced === 'onnx') return forced;
  return 'onnx';
}

/**
 * The embedded default: the ImageNet MobileNetV2 (α=0.35) with embedding = GAP(out_relu),
 * 1280-d, L2-normalised — so `embedcam explain` runs with no spec at all. ONNX: the bundled copy;
 * TF.js: the shared one (a missing ../shared is one line saying what to do).
 */
export function defaultModelSpec(format: 'tfjs-layers' | 'onnx' = 'tfjs-layers'): ModelSpec {
  const dir =
    format === 'onnx' ? bundledModelDir() : path.join(sharedDir(), 'models/mobilenetv2-035-imagenet');
  if (format !== 'onnx' && !existsSync(path.join(dir, 'model.json')))
    throw new ModelSpecError(
      '<default>',
      `the TF.js copy of the default model is not at ${dir} (it is in ../shared only); use --engine onnx (the bundled model), set EMBEDCAM_SHARED_DIR, or pass --model <spec.json>.`,
    );
  const onnx = format === 'onnx';
  return parseModelSpec(
    {
      name: onnx ? 'mobilenetv2-035-imagenet-gap-onnx' : 'mobilenetv2-035-imagenet-gap',
      model: onnx ? 'model.onnx' : 'model.json',
      input: {
        width: 224,
        height: 224,
        channelOrder: 'rgb',
        preprocess: { mode: 'scale', scale: 1 / 127.5, offset: -1 },
        name: onnx ? 'image' : undefined,
      },
      targetLayer: onnx ? 'features' : 'out_relu',
      embeddingOutput: onnx ? 'embedding' : undefined,
      head: { type: 'gap' },
      l2normalize: true,
    },
    dir,
    '<default>',
  );
}
