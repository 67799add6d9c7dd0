import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { initBackend, type ModelSpec, modelFingerprint } from '@embedcam/cam';
import {
  type Dataset,
  type DatasetItem,
  openDataset,
  splitByClassRange,
  toClassRange,
} from '@embedcam/datasets';
import type { ReadImage } from '@embedcam/explain';
import { backboneSpec, extractFeatures } from './feature-cache.js';
import { writeHeadSpec } from './head-spec.js';
import { DEFAULT_KS, type RecallResult, recallAtK } from './recall-at-k.js';
import { applyHead, trainHead } from './train-head.js';
import { resolveTrainHeadOptions, type TrainHeadOptions } from './train-head-options.js';
import { type VerifyResult, verifyHeadSpec } from './verify-head-spec.js';

export interface RunTrainHeadOptions extends Omit<TrainHeadOptions, 'onEpoch'> {
  /** CUB-200-2011 directory or JSONL manifest. */
  dataset: string;
  /** Classes the head is trained on (all their images, whatever the official split), e.g. "1-100". */
  trainClasses: string;
  /** Unseen classes Recall@K is measured on, e.g. "101-200". Must not overlap trainClasses. */
  testClasses: string;
  /** Spec whose backbone (model + target layer, pooled) is used; its dense layers are ignored. */
  spec: ModelSpec;
  /** Output directory: spec.json, head.bin, training.json. */
  out: string;
  /** Feature cache directory (default `.embedcam/cache/features`); null disables it. */
  cacheDir?: string | null;
  /** Images per backbone forward pass, default 16. */
  featureBatchSize?: number;
  /** Name of the written spec (default derived from the backbone, dataset, classes, loss, dim). */
  name?: string;
  /** TF.js backend (tensorflow | wasm | cpu | auto); default EMBEDCAM_TF_BACKEND, else the best available. */
  tfBackend?: string;
  /** Check that the written spec loads and reproduces the head's embeddings (default true). */
  verify?: boolean;
  /** Images the verification pushes through the full model, default 4. */
  verifyImages?: number;
  read?: ReadImage;
  onProgress?: (phase: 'features' | 'training', done: number, total: number, failed?: number) => void;
  /** Called once the features are there (from the cache or the backbone). */
  onFeatures?: (info: TrainHeadReport['cache'] & { failed: number; seconds: number }) => void;
  /** Called per epoch with the mean loss. */
  onEpoch?: (epoch: number, epochs: number, loss: number) => void;
}

export interface TrainHeadReport {
  format: 'embedcam-train-head';
  version: 1;
  name: string;
  specPath: string;
  loss: { name: 'proxy-anchor'; reference: string; alpha: number; delta: number };
  config: ReturnType<typeof resolveTrainHeadOptions> & {
    trainClasses: string;
    testClasses: string;
    dataset: { name: string; source: string };
    backbone: { name: string; model: string; targetLayer: string; fingerprint: string };
    inputDim: number;
  };
  seed: number;
  data: {
    train: { images: number; classes: number };
    test: { images: number; classes: number };
    failed: Array<{ id: string; code: string; message: string }>;
  };
  cache: { enabled: boolean; hits: number; misses: number; path?: string; backboneSkipped: boolean };
  losses: number[];
  steps: number;
  recall: {
    ks: number[];
    /** Trained head on the unseen test classes. */
    head: RecallResult;
    /** Bare pooled backbone features (L2-normalised) on the same images: the baseline. */
    features: RecallResult;
    /** Trained head on its own training classes (how well it fits; not a generalisation measure). */
    headOnTrainClasses: RecallResult;
  };
  verification?: VerifyResult;
  timings: { featuresS: number; trainS: number; evalS: number; verifyS: number; totalS: number };
  createdAt: string;
}

function countClasses(items: DatasetItem[]): number {
  return new Set(items.map((i) => i.label)).size;
}

function rows(features: Float32Array, dim: number, idx: number[]): Float32Array {
  const out = new Float32Array(idx.length * dim);
  idx.forEach((r, i) => {
    out.set(features.subarray(r * dim, (r + 1) * dim), i * dim);
  });
  return out;
}

/**
 * The zero-shot metric-learning split (CUB-200-2011: train 1-100, test 101-200): every image of
 * the train classes, whatever its official train/test flag, and every image of the unseen test
 * classes. Overlapping ranges are refused; the train side needs two classes, the test side one image.
 */
export function protocolSplit(
  ds: Dataset,
  trainClasses: string,
  testClasses: string,
): { train: DatasetItem[]; test: DatasetItem[] } {
  const { train, test } = splitByClassRange(ds, trainClasses, testClasses);
  if (countClasses(train) < 2)
    throw new Error(
      `Train classes "${trainClasses}" match ${countClasses(train)} class(es) of ${ds.name}; at least 2 are needed.`,
    );
  if (test.length === 0) throw new Error(`Test classes "${testClasses}" match no image of ${ds.name}.`);
  return { train, test };
}

/** Default spec name, e.g. "mobilenetv2-035-imagenet-cub200-subset-c1-15-proxyanchor128". */
export function defaultHeadName(
  backbone: string,
  dataset: string,
  trainClasses: string,
  o: TrainHeadOptions,
) {
  const base = backbone.replace(/-gap(-onnx)?$/, '');
  const classes = toClassRange(trainClasses).toString().replaceAll(',', '_');
  const mlp = o.hidden && o.hidden.length > 0 ? `-mlp${o.hidden.join('x')}` : '';
  return `${base}-${dataset}-c${classes}-proxyanchor${o.dim ?? 128}${mlp}`;
}

/**
 * The metric-learning protocol end to end: pooled features of a frozen backbone (cached), a
 * Proxy-Anchor head trained on the train classes, Recall@K on the unseen test classes for the head
 * and for the bare features, then spec.json + head.bin + training.json in `out`.
 */
export async function runTrainHead(opts: RunTrainHeadOptions): Promise<TrainHeadReport> {
  const t0 = performance.now();
  const o = resolveTrainHeadOptions(opts);
  await initBackend(opts.tfBackend);
  const ds = await openDataset(opts.dataset);
  const { train, test } = protocolSplit(ds, opts.trainClasses, opts.testClasses);
  const backbone = backboneSpec(opts.spec);
  const fingerprint = await modelFingerprint(backbone);

  const all = [...train, ...test];
  const fs = await extractFeatures({
    spec: backbone,
    items: all,
    dataset: { name: ds.name, source: ds.source },
    cacheDir: opts.cacheDir,
    batchSize: opts.featureBatchSize,
    read: opts.read,
    onProgress: (done, total, failed) => opts.onProgress?.('features', done, total, failed),
  });
  const t1 = performance.now();
  opts.onFeatures?.({
    ...fs.cache,
    backboneSkipped: fs.backboneSkipped,
    failed: fs.failed.length,
    seconds: (t1 - t0) / 1000,
  });
  const trainIds = new Set(train.map((i) => i.id));
  const trainRows: number[] = [];
  const testRows: number[] = [];
  fs.items.forEach((it, r) => {
    (trainIds.has(it.id) ? trainRows : testRows).push(r);
  });
  const dim0 = fs.dim;
  const xTrain = rows(fs.features, dim0, trainRows);
  const yTrain = trainRows.map((r) => fs.items[r].label);
  const xTest = rows(fs.features, dim0, testRows);
  const yTest = testRows.map((r) => fs.items[r].label);
  if (new Set(yTrain).size < 2) throw new Error('Fewer than 2 training classes have a readable image.');

  const trained = await trainHead(xTrain, yTrain, dim0, {
    ...o,
    onEpoch: (epoch, epochs, loss) => {
      opts.onProgress?.('training', epoch, epochs);
      opts.onEpoch?.(epoch, epochs, loss);
    },
  });
  const t2 = performance.now();

  const headTest = applyHead(trained.layers, xTest, yTest.length);
  const headTrain = applyHead(trained.layers, xTrain, yTrain.length);
  const recall = {
    ks: [...DEFAULT_KS],
    head: await recallAtK(headTest, yTest, o.dim),
    features: await recallAtK(xTest, yTest, dim0),
    headOnTrainClasses: await recallAtK(headTrain, yTrain, o.dim),
  };
  const t3 = performance.now();

  const name = opts.name ?? defaultHeadName(opts.spec.name, ds.name, opts.trainClasses, o);
  const specPath = await writeHeadSpec(backbone, trained.layers, opts.out, name);
  let verification: VerifyResult | undefined;
  if (opts.verify ?? true) {
    const k = Math.min(opts.verifyImages ?? 4, testRows.length);
    const idx = testRows.slice(0, k);
    verification = await verifyHeadSpec(
      specPath,
      idx.map((r) => fs.items[r]),
      rows(fs.features, dim0, idx),
      trained.layers,
      opts.read,
    );
  }
  const t4 = performance.now();

  const report: TrainHeadReport = {
    format: 'embedcam-train-head',
    version: 1,
    name,
    specPath,
    loss: {
      name: 'proxy-anchor',
      reference:
        'Kim, Kim, Cho, Kwak: Proxy Anchor Loss for Deep Metric Learning, CVPR 2020 (arXiv:2003.13911)',
      alpha: o.alpha,
      delta: o.delta,
    },
    config: {
      ...o,
      trainClasses: toClassRange(opts.trainClasses).toString(),
      testClasses: toClassRange(opts.testClasses).toString(),
      dataset: { name: ds.name, source: ds.source },
      backbone: {
        name: backbone.name,
        model: backbone.modelPath,
        targetLayer: backbone.targetLayer,
        fingerprint,
      },
      inputDim: dim0,
    },
    seed: o.seed,
    data: {
      train: { images: yTrain.length, classes: new Set(yTrain).size },
      test: { images: yTest.length, classes: new Set(yTest).size },
      failed: fs.failed.map((f) => ({ id: f.item.id, code: f.code, message: f.message })),
    },
    cache: { ...fs.cache, backboneSkipped: fs.backboneSkipped },
    losses: trained.losses,
    steps: trained.steps,
    recall,
    verification,
    timings: {
      featuresS: (t1 - t0) / 1000,
      trainS: (t2 - t1) / 1000,
      evalS: (t3 - t2) / 1000,
      verifyS: (t4 - t3) / 1000,
      totalS: (t4 - t0) / 1000,
    },
    createdAt: new Date().toISOString(),
  };
  await mkdir(opts.out, { recursive: true });
  await writeFile(path.join(opts.out, 'training.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
