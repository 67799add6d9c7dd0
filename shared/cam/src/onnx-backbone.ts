import * as tf from '@tensorflow/tfjs';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { type Backbone, type CamModel, camModel } from './cam-model.js';
import { UnsupportedModelError } from './errors.js';
import { GapDenseHead, loadDenseWeights } from './head.js';
import type { ModelSpec } from './model-spec.js';

/** Execution providers the ONNX engine can ask for. */
export type OnnxExecutionProvider = 'cpu' | 'cuda';

export interface OnnxOptions {
  /**
   * Intra-op threads of the session. Default: EMBEDCAM_ONNX_THREADS, else 1 — the pipeline runs
   * one compute thread per core, each with its own session, so one thread per session avoids
   * oversubscribing the cores.
   */
  threads?: number;
  /**
   * Providers in order of preference; default ['cpu']. 'cuda' is used when the installed
   * onnxruntime-node lists it. UNTESTED here: the CUDA provider libraries are not bundled in the npm
   * package (its install script, which downloads them, is denied in package.json `allowScripts`), and
   * no GPU machine has run it. When creating the session with CUDA fails, the engine warns and falls
   * back to the CPU provider.
   */
  executionProviders?: OnnxExecutionProvider[];
  /** Where warnings go (default console.warn). */
  warn?: (message: string) => void;
}

type Ort = typeof import('onnxruntime-node');

/** Intra-op threads: explicit option, else EMBEDCAM_ONNX_THREADS, else 1. */
export function resolveOnnxThreads(threads?: number, env = process.env.EMBEDCAM_ONNX_THREADS): number {
  if (threads !== undefined) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new Error(`onnxThreads must be a positive integer; got ${threads}.`);
    return threads;
  }
  if (env === undefined || env.trim() === '') return 1;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`EMBEDCAM_ONNX_THREADS must be a positive integer; got "${env}".`);
  return n;
}

/**
 * Forward-only backbone over an ONNX Runtime session: feeds the NCHW input, fetches the target
 * activation output [N,K,h,w] and hands it to TF.js as NHWC [N,h,w,K] (the head is TF.js).
 */
export class OnnxBackbone implements Backbone {
  readonly inputLayout = 'nchw' as const;
  private released = false;

  constructor(
    private readonly ort: Ort,
    private readonly session: InferenceSession,
    readonly runtime: string,
    private readonly inputName: string,
    private readonly targetOutput: string,
    private readonly embeddingOutput: string | undefined,
    private readonly height: number,
    private readonly width: number,
  ) {}

  private async run(input: Float32Array, n: number, fetches: string[]) {
    const size = n * 3 * this.height * this.width;
    if (input.length !== size)
      throw new Error(
        `ONNX input "${this.inputName}" needs ${n}×3×${this.height}×${this.width} = ${size} values (NCHW); got ${input.length}.`,
      );
    const x = new this.ort.Tensor('float32', input, [n, 3, this.height, this.width]);
    try {
      return await this.session.run({ [this.inputName]: x }, fetches);
    } finally {
      x.dispose();
    }
  }

  async forward(input: Float32Array, n: number): Promise<tf.Tensor4D> {
    const out = await this.run(input, n, [this.targetOutput]);
    const a = out[this.targetOutput] as OrtTensor;
    try {
      if (a.dims.length !== 4 || a.type !== 'float32')
        throw new UnsupportedModelError(
          `ONNX output "${this.targetOutput}" (targetLayer) is ${a.type} of rank ${a.dims.length}; it must be a float32 [N,K,h,w] activation.`,
        );
      const [, k, h, w] = a.dims;
      return nchwToNhwc(a.data as Float32Array, n, k, h, w);
    } finally {
      a.dispose();
    }
  }

  /**
   * The embedding the graph exports (spec `embeddingOutput`), N×dim, before any head or
   * normalisation; null when the spec names none. For cross-checks: the head recomputes it from A.
   */
  async exportedEmbedding(input: Float32Array, n: number): Promise<Float32Array | null> {
    if (!this.embeddingOutput) return null;
    const out = await this.run(input, n, [this.embeddingOutput]);
    const y = out[this.embeddingOutput] as OrtTensor;
    const data = Float32Array.from(y.data as Float32Array);
    y.dispose();
    return data;
  }

  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.session.release().catch(() => {});
  }
}

/**
 * NCHW data → NHWC tf tensor [N,h,w,K]. tf.transpose on the backend beats a JS loop (plain,
 * write-sequential and 16-channel-blocked variants) on the 2-core CI machine with the wasm backend:
 * for [32,1280,7,7] about 6–10 ms vs 7–13 ms, for [8,…] 0.6 ms vs 1.3 ms (EMBEDCAM_BENCH=1 onnx-bench).
 */
export function nchwToNhwc(data: Float32Array, n: number, k: number, h: number, w: number): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, [n, k, h, w]), [0, 2, 3, 1]));
}

function listNames(names: readonly string[]): string {
  return names.map((s) => `"${s}"`).join(', ') || '(none)';
}

async function createSession(
  ort: Ort,
  spec: ModelSpec,
  threads: number,
  providers: OnnxExecutionProvider[],
  warn: (message: string) => void,
): Promise<{ session: InferenceSession; provider: OnnxExecutionProvider }> {
  const base: InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
  const supported = new Set(ort.listSupportedBackends().map((b) => b.name));
  for (const provider of providers) {
    if (provider === 'cpu') break;
    if (!supported.has(provider)) {
      warn(
        `ONNX Runtime: execution provider "${provider}" is not in this onnxruntime-node build (it has ${[...supported].join(', ')}); trying the next one.`,
      );
      continue;
    }
    try {
      const session = await ort.InferenceSession.create(spec.modelPath, {
        ...base,
        executionProviders: [provider, 'cpu'],
      });
      return { session, provider };
    } catch (err) {
      warn(
        `ONNX Runtime: creating the session with execution provider "${provider}" failed (${firstLine(err)}); falling back to the next provider (CPU last).`,
      );
    }
  }
  try {
    const session = await ort.InferenceSession.create(spec.modelPath, {
      ...base,
      executionProviders: ['cpu'],
    });
    return { session, provider: 'cpu' };
  } catch (err) {
    throw new UnsupportedModelError(`Cannot load ONNX model ${spec.modelPath}: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  return String((err as Error).message ?? err).split('\n')[0];
}

/**
 * Loads an .onnx model: ONNX Runtime computes A (forward only); the `gap` head (GAP, optional dense
 * projection, optional L2) is TF.js, so the gradient is the closed form or TF.js autodiff as for
 * TF.js models.
 */
export async function loadOnnxCamModel(spec: ModelSpec, opts: OnnxOptions = {}): Promise<CamModel> {
  if (spec.head.type !== 'gap')
    throw new UnsupportedModelError(
      'ONNX models need head.type "gap" (the head is differentiated in TF.js).',
    );
  const threads = resolveOnnxThreads(opts.threads);
  const providers = opts.executionProviders ?? ['cpu'];
  const warn = opts.warn ?? ((m: string) => console.warn(`[embedcam] ${m}`));
  const ort: Ort = await import('onnxruntime-node');
  const { session, provider } = await createSession(ort, spec, threads, providers, warn);
  try {
    const inputName = resolveInput(session, spec);
    const targetMeta = checkOutput(session, spec.targetLayer, 'targetLayer', spec);
    if (spec.embeddingOutput !== undefined)
      checkOutput(session, spec.embeddingOutput, 'embeddingOutput', spec);
    if (targetMeta && targetMeta.shape.length !== 4)
      throw new UnsupportedModelError(
        `Model spec ${spec.specPath ?? spec.name}: targetLayer output "${spec.targetLayer}" has shape [${targetMeta.shape.join(',')}]; it must be an [N,K,h,w] activation.`,
      );
    const { width, height } = spec.input;
    const backbone = new OnnxBackbone(
      ort,
      session,
      `onnxruntime-${provider}`,
      inputName,
      spec.targetLayer,
      spec.embeddingOutput,
      height,
      width,
    );
    const declared = targetMeta?.shape[1];
    const channels = typeof declared === 'number' ? declared : await probeChannels(backbone, spec);
    const head = new GapDenseHead(channels, await loadDenseWeights(spec), spec.l2normalize);
    if (head.layers[0] && head.layers[0].spec.inputDim !== channels) {
      head.dispose();
      throw new UnsupportedModelError(
        `head.dense[0].inputDim is ${head.layers[0].spec.inputDim} but ONNX output "${spec.targetLayer}" has ${channels} channels.`,
      );
    }
    return camModel(spec, backbone, head);
  } catch (err) {
    await session.release();
    throw err;
  }
}

function resolveInput(session: InferenceSession, spec: ModelSpec): string {
  const names = session.inputNames;
  const name = spec.input.name ?? (names.length === 1 ? names[0] : undefined);
  if (name === undefined)
    throw new UnsupportedModelError(
      `Model spec ${spec.specPath ?? spec.name}: input.name is required for ONNX model ${spec.modelPath}, which has inputs ${listNames(names)}.`,
    );
  if (!names.includes(name))
    throw new UnsupportedModelError(
      `Model spec ${spec.specPath ?? spec.name}: input.name "${name}" is not an input of ONNX model ${spec.modelPath}; its inputs are ${listNames(names)}.`,
    );
  const meta = session.inputMetadata[names.indexOf(name)];
  if (meta?.isTensor) {
    const { shape } = meta;
    const want = [3, spec.input.height, spec.input.width];
    const bad =
      shape.length !== 4 || want.some((d, i) => typeof shape[i + 1] === 'number' && shape[i + 1] !== d);
    if (bad)
      throw new UnsupportedModelError(
        `Model spec ${spec.specPath ?? spec.name}: ONNX input "${name}" has shape [${shape.join(',')}]; the engine feeds NCHW [N,3,${spec.input.height},${spec.input.width}] (input.height/width).`,
      );
  }
  return name;
}

function checkOutput(
  session: InferenceSession,
  name: string,
  field: 'targetLayer' | 'embeddingOutput',
  spec: ModelSpec,
): { shape: ReadonlyArray<number | string> } | undefined {
  const names = session.outputNames;
  if (!names.includes(name))
    throw new UnsupportedModelError(
      `Model spec ${spec.specPath ?? spec.name}: ${field} "${name}" is not an output of ONNX model ${spec.modelPath}; its outputs are ${listNames(names)}.`,
    );
  const meta = session.outputMetadata[names.indexOf(name)];
  return meta?.isTensor ? { shape: meta.shape } : undefined;
}

async function probeChannels(backbone: Backbone, spec: ModelSpec): Promise<number> {
  const a = await backbone.forward(new Float32Array(spec.input.width * spec.input.height * 3), 1);
  const k = a.shape[3];
  a.dispose();
  return k;
}
