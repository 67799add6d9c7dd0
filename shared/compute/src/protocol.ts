// Messages between a compute pool (main thread) and its compute threads. Everything here is
// structured-clone friendly; pixel and heatmap buffers travel as transfers, not copies.
import type { GradientMode } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import type { CamTarget, EvalResolution } from '@embedcam/explain';
import type { PreparedImage } from '@embedcam/images';
import type { Box, ImageMetrics } from '@embedcam/metrics';

/** What a compute thread loads at start-up. */
export interface ComputeInit {
  /** "default" | "default-onnx" (the shared MobileNetV2) or a path to a model spec JSON. */
  model: string;
  engine?: 'tfjs' | 'onnx';
  /** TF.js backend: tensorflow | wasm | cpu | auto (default: EMBEDCAM_TF_BACKEND, else auto). */
  tfBackend?: string;
  gradient?: GradientMode;
  /**
   * Fault injection for tests: a thread that receives an explain batch holding an item with this
   * id exits abruptly (as a crash would), losing the batch.
   */
  crashOnItemId?: string;
}

/** What the loaded model looks like (sent by every thread once it is ready). */
export interface ModelInfo {
  name: string;
  /** e.g. "tfjs-wasm". */
  runtime: string;
  /** modelFingerprint(spec): proxies and runs built with another fingerprint do not belong to it. */
  fingerprint: string;
  dim: number;
  input: { width: number; height: number };
  gradient: GradientMode;
}

/**
 * One image of an explain batch: the dataset item with either its decoded, resized pixels
 * (`image`, as loadItems makes them) or its encoded file (`bytes`: the thread decodes and resizes
 * it with prepareForModel — a corrupt file then comes back as a failed outcome). Give `bytes` too
 * (with `image`) when an overlay is wanted.
 */
export interface ExplainInput {
  item: DatasetItem;
  image?: PreparedImage;
  bytes?: Uint8Array;
}

/** Files the thread encodes for each explained image, so no pixel work is left to the caller. */
export interface RenderOptions {
  /** The heatmap as an 8-bit grayscale PNG (encodeHeatmapPng). */
  heatmapPng?: boolean;
  /** JPEG overlay on the original image with the GT box in green (as `embedcam explain`); needs bytes. */
  overlay?: boolean;
}

export interface ExplainRequest {
  proxyId: string;
  target: CamTarget;
  resolution: EvalResolution;
  items: ExplainInput[];
  render?: RenderOptions;
}

/** A computed heatmap: the fields of ExplainedImage except the image itself. */
export interface ExplainOk {
  ok: true;
  /** The raw h×w CAM (ReLU'd, before upsampling and normalisation). */
  raw: { width: number; height: number; data: Float32Array };
  /** Upsampled and min–max normalised at the evaluation resolution. */
  heatmap: { width: number; height: number; data: Float32Array };
  metrics: ImageMetrics | null;
  score: number;
  nearestLabel: number;
  targetLabel: number;
  allZero: boolean;
  /** The GT box in heatmap coordinates (null without a box). */
  box: Box | null;
  /** Decoded image size (boxes live here). */
  original: { width: number; height: number };
  /** With render.heatmapPng. */
  png?: Uint8Array;
  /** With render.overlay (JPEG). */
  overlay?: Uint8Array;
}

/** A per-image failure (always permanent: bad box, unknown class…), coded like toFailure. */
export interface ExplainFailed {
  ok: false;
  code: string;
  message: string;
}

export type ExplainOutcome = ExplainOk | ExplainFailed;

export interface EmbedResult {
  /** N×dim, row-major. */
  embeddings: Float32Array;
  dim: number;
}

/** One image of an embed batch: a dataset item as for explain, or bare pixels (which cannot fail). */
export type EmbedInput = ExplainInput | { image: PreparedImage; item?: undefined; bytes?: undefined };

/** An embedded dataset image (a view into its batch's N×dim buffer), or why it could not be. */
export type EmbedOutcome = { ok: true; embedding: Float32Array } | ExplainFailed;

/** A failed image of an embed batch, by its index in the batch. */
export interface EmbedFailure {
  index: number;
  code: string;
  message: string;
}

/** A thrown error, flattened for postMessage. */
export interface WireError {
  name: string;
  message: string;
  code?: string;
  permanent?: boolean;
  stack?: string;
}

export type ToThread =
  | { type: 'setProxies'; proxyId: string; data: ArrayBuffer; meta: string }
  | ({ type: 'explain'; batchId: number } & ExplainRequest)
  | { type: 'embed'; batchId: number; items: EmbedInput[] };

export type FromThread =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'initError'; error: WireError }
  | { type: 'explained'; batchId: number; outcomes: ExplainOutcome[] }
  // One row of result.embeddings per item that did not fail, in item order.
  | { type: 'embedded'; batchId: number; result: EmbedResult; failed: EmbedFailure[] }
  | { type: 'batchError'; batchId: number; error: WireError };

export function toWireError(err: unknown): WireError {
  const e = err as Partial<Error> & { code?: unknown; permanent?: unknown };
  return {
    name: typeof e?.name === 'string' ? e.name : 'Error',
    message: typeof e?.message === 'string' ? e.message : String(err),
    code: typeof e?.code === 'string' ? e.code : undefined,
    permanent: e?.permanent === true ? true : undefined,
    stack: typeof e?.stack === 'string' ? e.stack : undefined,
  };
}

/** Rebuilds an Error on this side, keeping name, code and permanence (so isPermanent still works). */
export function fromWireError(w: WireError, context?: string): Error {
  const err = new Error(context ? `${context}: ${w.message}` : w.message) as Error & {
    code?: string;
    permanent?: boolean;
  };
  err.name = w.name;
  if (w.code !== undefined) err.code = w.code;
  if (w.permanent) err.permanent = true;
  if (w.stack)
    err.stack = `${err.name}: ${err.message}\n    [compute thread]\n${w.stack.split('\n').slice(1).join('\n')}`;
  return err;
}
