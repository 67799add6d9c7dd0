import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultModelSpec, EmbeddingCam, loadCamModel, loadDenseWeights, loadModelSpec } from '@embedcam/cam';
import { openDataset, selectItems } from '@embedcam/datasets';
import { loadItems, packBatch, readLocalImage } from '@embedcam/explain';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyHead, extractFeatures, runTrainHead, type TrainHeadReport } from '../src/index.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-run-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.skipIf(!HAS_SHARED)('train-head on the shared CUB subset (train 1-5, test unseen 6-10)', () => {
  let report: TrainHeadReport;
  const cacheDir = () => path.join(tmp, 'cache');
  const out = () => path.join(tmp, 'head');

  beforeAll(async () => {
    const phases = new Set<string>();
    report = await runTrainHead({
      dataset: CUB_DIR,
      trainClasses: '1-5',
      testClasses: '6-10',
      spec: defaultModelSpec(),
      out: out(),
      cacheDir: cacheDir(),
      epochs: 10,
      seed: 0,
      onProgress: (phase) => phases.add(phase),
    });
    expect([...phases]).toEqual(['features', 'training']);
    console.log(
      `[train-head 1-5 → 6-10] R@1/2/4/8 head ${report.recall.head.recall.map((v) => (100 * v).toFixed(1)).join('/')}` +
        ` | bare features ${report.recall.features.recall.map((v) => (100 * v).toFixed(1)).join('/')}` +
        ` | ${report.timings.totalS.toFixed(1)} s, verification ${JSON.stringify(report.verification)}`,
    );
  }, 600_000);

  it('uses every image of the ranges, the train and test classes disjoint', async () => {
    const ds = await openDataset(CUB_DIR);
    expect(report.data.train.images).toBe(selectItems(ds, { classes: '1-5' }).length);
    expect(report.data.test.images).toBe(selectItems(ds, { classes: '6-10' }).length);
    expect(report.data.train.classes).toBe(5);
    expect(report.data.test.classes).toBe(5);
    expect(report.recall.head.queries).toBe(report.data.test.images);
    expect(report.cache.misses).toBe(report.data.train.images + report.data.test.images);
  });

  it('writes spec.json + head.bin + training.json, and the spec loads', async () => {
    const spec = await loadModelSpec(path.join(out(), 'spec.json'));
    expect(spec.name).toBe('mobilenetv2-035-imagenet-cub200-subset-c1-5-proxyanchor128');
    expect(spec.head).toMatchObject({ type: 'gap', dense: [{ inputDim: 1280, outputDim: 128 }] });
    expect(spec.l2normalize).toBe(true);
    expect(spec.modelPath).toBe(defaultModelSpec().modelPath);
    const training = JSON.parse(await readFile(path.join(out(), 'training.json'), 'utf8'));
    expect(training.seed).toBe(0);
    expect(training.losses).toHaveLength(10);
    expect(training.loss.name).toBe('proxy-anchor');
    expect(Object.keys(training.config)).not.toContain('spec'); // options only, not the caller's objects
    expect(training.config).toMatchObject({ trainClasses: '1-5', testClasses: '6-10', epochs: 10, dim: 128 });
    expect(training.recall.head.recall).toEqual(report.recall.head.recall);
    expect(training.losses.at(-1)).toBeLessThan(training.losses[0]);
  });

  it('the full model (GAP → linear → L2) reproduces head(features), and EmbeddingCAM takes the closed form', async () => {
    expect(report.verification?.maxAbsDiff).toBeLessThan(1e-4);
    expect(report.verification?.gradient).toBe('closed-form');
    expect(report.verification?.closedFormVsAutodiff).toBeLessThan(1e-3);
    // Independently of verifyHeadSpec: two test images through the loaded model vs the cached features.
    const spec = await loadModelSpec(path.join(out(), 'spec.json'));
    const model = await loadCamModel(spec);
    try {
      const ds = await openDataset(CUB_DIR);
      const items = selectItems(ds, { classes: '8', perClass: 2 });
      const feats = await extractFeatures({
        spec: defaultModelSpec(),
        items,
        dataset: ds,
        cacheDir: cacheDir(),
      });
      expect(feats.cache.hits).toBe(2);
      const layers = (await loadDenseWeights(spec)).map((l) => ({
        inputDim: l.spec.inputDim,
        outputDim: l.spec.outputDim,
        activation: l.spec.activation,
        kernel: Float32Array.from(l.kernel.dataSync()),
        bias: Float32Array.from(l.bias!.dataSync()),
      }));
      const expected = applyHead(layers, feats.features, 2);
      const { loaded } = await loadItems(items, spec, readLocalImage);
      const input = packBatch(
        loaded.map((l) => l.image),
        spec,
        model.backbone.inputLayout,
      );
      const cam = new EmbeddingCam(model);
      const y = await cam.embed(input, 2);
      expect(y).toHaveLength(2 * 128);
      let maxDiff = 0;
      for (let i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - expected[i]));
      expect(maxDiff).toBeLessThan(1e-4);
      // Each image explained against the other's embedding (its own would give a zero gradient:
      // ∂(ŷ·ŷ)/∂A = 0 for an L2-normalised ŷ).
      const batch = await cam.explain(input, 2, (emb) =>
        Float32Array.from([...emb.slice(128), ...emb.slice(0, 128)]),
      );
      expect(batch.gradient).toBe('closed-form');
      expect(batch.maps.some((v) => v > 0)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('on unseen classes, Recall@1 of the head is at least that of the bare features minus 5 points', () => {
    const [head, bare] = [report.recall.head.recall[0], report.recall.features.recall[0]];
    expect(head).toBeGreaterThanOrEqual(bare - 0.05);
  });

  it('a second run reads every feature from the cache and is deterministic', async () => {
    const again = await runTrainHead({
      dataset: CUB_DIR,
      trainClasses: '1-5',
      testClasses: '6-10',
      spec: defaultModelSpec(),
      out: path.join(tmp, 'head2'),
      cacheDir: cacheDir(),
      epochs: 10,
      seed: 0,
      verify: false,
    });
    expect(again.cache.hits).toBe(report.data.train.images + report.data.test.images);
    expect(again.cache.misses).toBe(0);
    expect(again.cache.backboneSkipped).toBe(true);
    expect(again.losses).toEqual(report.losses);
    expect(again.recall.head.recall).toEqual(report.recall.head.recall);
    const [a, b] = await Promise.all(
      [out(), path.join(tmp, 'head2')].map((d) => readFile(path.join(d, 'head.bin'))),
    );
    expect(a.equals(b)).toBe(true);
  }, 300_000);
});
