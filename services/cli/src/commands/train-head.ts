import path from 'node:path';
import { initBackend, resolveModel } from '@embedcam/cam';
import { toClassRange } from '@embedcam/datasets';
import {
  DEFAULT_FEATURE_CACHE_DIR,
  formatRecallTable,
  type HeadInit,
  type InputScaling,
  runTrainHead,
  TRAIN_HEAD_DEFAULTS,
  type TrainHeadReport,
} from '@embedcam/training';
import { type Command, InvalidArgumentError } from 'commander';
import { DATASET_HELP } from '../default-dataset.js';
import { logger } from '../logger.js';
import { createProgress } from '../progress.js';
import { parseChoice, parsePositiveInt } from './options.js';

export interface TrainHeadCliOptions {
  dataset: string;
  model?: string;
  trainClasses: string;
  testClasses: string;
  dim: number;
  hidden?: number[];
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  alpha: number;
  delta: number;
  proxyLrMultiplier: number;
  init: HeadInit;
  inputScaling: InputScaling;
  seed: number;
  cacheDir: string;
  cache: boolean;
  featureBatchSize: number;
  name?: string;
  verify: boolean;
  tfBackend?: string;
  out: string;
}

function parseNumber(flag: string, min: number, minInclusive = false) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || (minInclusive ? n < min : n <= min))
      throw new InvalidArgumentError(
        `${flag} must be a number ${minInclusive ? '≥' : '>'} ${min} (got "${v}").`,
      );
    return n;
  };
}

function parseInteger(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${flag} must be an integer (got "${v}").`);
    return n;
  };
}

function parseHidden(v: string): number[] {
  return v.split(',').map((w) => parsePositiveInt('--hidden', w.trim()));
}

function parseRange(flag: string) {
  return (v: string): string => {
    try {
      return toClassRange(v).toString();
    } catch (err) {
      throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`);
    }
  };
}

const d = TRAIN_HEAD_DEFAULTS;

export function registerTrainHead(program: Command): void {
  program
    .command('train-head')
    .description(
      'Train a projection head on frozen backbone features (Proxy-Anchor loss, Kim et al. CVPR 2020), ' +
        'report Recall@1/2/4/8 on unseen classes, and write a model spec (backbone + head) every command accepts',
    )
    .option('--dataset <dir|manifest>', DATASET_HELP)
    .option(
      '--model <spec.json>',
      'backbone spec (gap head; its dense layers are ignored). Default: the bundled MobileNetV2, GAP(out_relu)',
    )
    .requiredOption(
      '--train-classes <range>',
      'classes the head is trained on, all their images (shared subset: 1-15; full CUB: 1-100)',
      parseRange('--train-classes'),
    )
    .requiredOption(
      '--test-classes <range>',
      'unseen classes Recall@K is measured on (shared subset: 16-30; full CUB: 101-200)',
      parseRange('--test-classes'),
    )
    .option('--dim <n>', 'embedding dimension', (v) => parsePositiveInt('--dim', v), d.dim)
    .option('--hidden <n[,n…]>', 'hidden ReLU layer width(s) of an MLP head, e.g. 512', parseHidden)
    .option(
      '--epochs <n>',
      'passes over the training images',
      (v) => parsePositiveInt('--epochs', v),
      d.epochs,
    )
    .option(
      '--batch-size <n>',
      'embeddings per step',
      (v) => parsePositiveInt('--batch-size', v),
      d.batchSize,
    )
    .option('--lr <x>', 'Adam learning rate of the head', parseNumber('--lr', 0), d.lr)
    .option(
      '--proxy-lr-multiplier <x>',
      'proxies learn this many times faster (paper: 100)',
      parseNumber('--proxy-lr-multiplier', 0),
      d.proxyLrMultiplier,
    )
    .option(
      '--weight-decay <x>',
      'decoupled weight decay (AdamW)',
      parseNumber('--weight-decay', 0, true),
      d.weightDecay,
    )
    .option('--alpha <x>', 'Proxy-Anchor scale α', parseNumber('--alpha', 0), d.alpha)
    .option('--delta <x>', 'Proxy-Anchor margin δ', parseNumber('--delta', -1), d.delta)
    .option(
      '--init <pca|random>',
      'first-layer init of a linear head',
      (v) => parseChoice('--init', v, ['pca', 'random']),
      d.init,
    )
    .option(
      '--input-scaling <mode>',
      'center | standardize | none (folded into the written weights)',
      (v) => parseChoice('--input-scaling', v, ['center', 'standardize', 'none']),
      d.inputScaling,
    )
    .option('--seed <n>', 'seed of the initialisation and batch order', parseInteger('--seed'), d.seed)
    .option('--cache-dir <dir>', 'feature cache directory', DEFAULT_FEATURE_CACHE_DIR)
    .option('--no-cache', 'do not read or write the feature cache')
    .option(
      '--feature-batch-size <n>',
      'images per backbone forward pass',
      (v) => parsePositiveInt('--feature-batch-size', v),
      16,
    )
    .option('--name <name>', 'name of the written spec (default: backbone-dataset-classes-loss-dim)')
    .option('--no-verify', 'skip loading the written spec and checking it reproduces the head')
    .option('--tf-backend <name>', 'TF.js backend: tensorflow | wasm | cpu | auto (env EMBEDCAM_TF_BACKEND)')
    .option('--out <dir>', 'output directory: spec.json, head.bin, training.json', 'out/train-head')
    .action(async (opts: TrainHeadCliOptions) => {
      const report = await trainHeadCommand(opts);
      process.stdout.write(`${formatTrainHeadTable(report)}\n`);
    });
}

/** The Recall@K table printed at the end: the trained head against the bare features. */
export function formatTrainHeadTable(report: TrainHeadReport): string {
  const c = report.config;
  const arch = [c.inputDim, ...c.hidden, c.dim].join('→');
  const table = formatRecallTable([
    { name: `trained head ${arch} (Proxy-Anchor)`, result: report.recall.head },
    { name: `bare GAP features (${c.inputDim}-d)`, result: report.recall.features },
  ]);
  return (
    `Recall@K (%) on unseen classes ${c.testClasses} (${report.data.test.images} images, each a query against all others); ` +
    `head trained on classes ${c.trainClasses} (${report.data.train.images} images).\n\n${table}\n\n` +
    `Model spec: ${report.specPath}`
  );
}

export async function trainHeadCommand(opts: TrainHeadCliOptions): Promise<TrainHeadReport> {
  const log = logger.child({ cmd: 'train-head' });
  const backend = await initBackend(opts.tfBackend);
  log.info({ backend: backend.backend, skipped: backend.tried }, `TF.js backend: ${backend.backend}`);
  // Training differentiates the head with TF.js, so the default model is its TF.js copy.
  const { spec } = await resolveModel(opts.model, 'tfjs');
  const progress = createProgress(log);
  let lastLoss = Number.NaN;
  try {
    const report = await runTrainHead({
      dataset: opts.dataset,
      trainClasses: opts.trainClasses,
      testClasses: opts.testClasses,
      spec,
      out: path.resolve(opts.out),
      cacheDir: opts.cache ? opts.cacheDir : null,
      featureBatchSize: opts.featureBatchSize,
      name: opts.name,
      verify: opts.verify,
      dim: opts.dim,
      hidden: opts.hidden,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      lr: opts.lr,
      proxyLrMultiplier: opts.proxyLrMultiplier,
      weightDecay: opts.weightDecay,
      alpha: opts.alpha,
      delta: opts.delta,
      init: opts.init,
      inputScaling: opts.inputScaling,
      seed: opts.seed,
      onProgress: (phase, done, total, failed) => progress.update(phase, done, total, failed),
      onFeatures: (cache) => {
        progress.stop();
        log.info(
          cache,
          cache.enabled
            ? `feature cache: ${cache.hits} hits, ${cache.misses} computed${cache.backboneSkipped ? ' (backbone skipped)' : ''} in ${cache.seconds.toFixed(1)} s`
            : `feature cache off: ${cache.misses} computed in ${cache.seconds.toFixed(1)} s`,
        );
      },
      onEpoch: (epoch, epochs, loss) => {
        lastLoss = loss;
        log.debug({ epoch, epochs, loss }, `epoch ${epoch}/${epochs}: loss ${loss.toFixed(4)}`);
      },
    });
    progress.stop();
    const { data, timings } = report;
    if (data.failed.length > 0)
      log.warn(
        { failed: data.failed.slice(0, 10) },
        `${data.failed.length} image(s) could not be read and were left out (see training.json)`,
      );
    log.info(
      { loss: lastLoss, steps: report.steps, verification: report.verification, timings },
      `trained in ${timings.trainS.toFixed(1)} s (features ${timings.featuresS.toFixed(1)} s, total ${timings.totalS.toFixed(1)} s)`,
    );
    log.info(
      { spec: report.specPath, training: path.join(path.dirname(report.specPath), 'training.json') },
      'written',
    );
    return report;
  } finally {
    progress.stop();
  }
}
