// What trainHead can be told, its defaults, and their validation.
import { PROXY_ANCHOR_DEFAULTS } from './losses.js';

export interface TrainHeadOptions {
  /** Output (embedding) dimension, default 128. */
  dim?: number;
  /** Hidden layer widths of an MLP head (ReLU after each), default none: a single linear layer. */
  hidden?: readonly number[];
  /** Passes over the training set, default 20. */
  epochs?: number;
  /** Embeddings per batch, default 128 (Proxy-Anchor needs no class-balanced sampling). */
  batchSize?: number;
  /** Adam learning rate of the head, default 1e-3. */
  lr?: number;
  /** Proxies learn this many times faster, default 100 (Kim et al. 2020). */
  proxyLrMultiplier?: number;
  /** Decoupled weight decay (AdamW, Loshchilov & Hutter 2019) on all parameters, default 1e-4. */
  weightDecay?: number;
  /** Proxy-Anchor scale α, default 32. */
  alpha?: number;
  /** Proxy-Anchor margin δ, default 0.1. */
  delta?: number;
  /** Seeds the initialisation and the batch order, default 0. */
  seed?: number;
  /**
   * Affine map applied to the features before the head, from training-set statistics, folded into
   * the first layer on export (so the written head reads raw pooled features):
   * 'center' (default) subtracts the mean and divides by one global RMS (keeps the geometry);
   * 'standardize' uses per-dimension std (amplifies low-variance, often noisy, channels); 'none'.
   */
  inputScaling?: InputScaling;
  /**
   * First-layer init of a linear head: 'pca' (default) starts from the top-`dim` principal
   * directions of the (scaled) training features, an isometry on the subspace that carries most of
   * the variance, so training starts from what the bare features already know; 'random' is
   * Glorot-normal. MLP heads always start random (He-normal before ReLU).
   */
  init?: HeadInit;
  onEpoch?: (epoch: number, epochs: number, loss: number) => void | Promise<void>;
}

export type InputScaling = 'center' | 'standardize' | 'none';
export type HeadInit = 'pca' | 'random';

export const TRAIN_HEAD_DEFAULTS = {
  dim: 128,
  hidden: [] as number[],
  epochs: 20,
  batchSize: 128,
  lr: 1e-3,
  proxyLrMultiplier: 100,
  weightDecay: 1e-4,
  alpha: PROXY_ANCHOR_DEFAULTS.alpha,
  delta: PROXY_ANCHOR_DEFAULTS.delta,
  seed: 0,
  inputScaling: 'center' as InputScaling,
  init: 'pca' as HeadInit,
};

export type ResolvedTrainHeadOptions = typeof TRAIN_HEAD_DEFAULTS;

export function resolveTrainHeadOptions(opts: TrainHeadOptions = {}): ResolvedTrainHeadOptions {
  const o = { ...TRAIN_HEAD_DEFAULTS };
  // Only the training options (callers may pass a larger object, e.g. RunTrainHeadOptions).
  const given = opts as Record<string, unknown>;
  for (const k of Object.keys(TRAIN_HEAD_DEFAULTS) as Array<keyof ResolvedTrainHeadOptions>)
    if (given[k] !== undefined) (o as Record<string, unknown>)[k] = given[k];
  o.hidden = [...(opts.hidden ?? [])];
  const posInt = (name: string, v: number, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${v}.`);
  };
  posInt('dim', o.dim);
  posInt('epochs', o.epochs, 0);
  posInt('batchSize', o.batchSize);
  for (const h of o.hidden) posInt('hidden layer width', h);
  if (!Number.isInteger(o.seed)) throw new Error(`seed must be an integer, got ${o.seed}.`);
  for (const [name, v] of [
    ['lr', o.lr],
    ['proxyLrMultiplier', o.proxyLrMultiplier],
    ['alpha', o.alpha],
  ] as const)
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`${name} must be a positive number, got ${v}.`);
  if (!(o.weightDecay >= 0)) throw new Error(`weightDecay must be ≥ 0, got ${o.weightDecay}.`);
  if (!Number.isFinite(o.delta)) throw new Error(`delta must be a number, got ${o.delta}.`);
  if (!['center', 'standardize', 'none'].includes(o.inputScaling))
    throw new Error(`inputScaling must be center, standardize or none, got ${o.inputScaling}.`);
  if (!['pca', 'random'].includes(o.init)) throw new Error(`init must be pca or random, got ${o.init}.`);
  return o;
}
