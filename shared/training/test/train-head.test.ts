import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultModelSpec, initBackend, loadDenseWeights, loadModelSpec } from '@embedcam/cam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyHead,
  featureStats,
  foldStandardization,
  normalizeRows,
  Prng,
  principalSubspace,
  recallAtK,
  resolveTrainHeadOptions,
  trainHead,
  writeHeadSpec,
} from '../src/index.js';

let tmp: string;
beforeAll(async () => {
  await initBackend();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-train-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * Synthetic features: a random centre per class, plus a large nuisance component along one shared
 * direction (scale varying per image) that a linear head can learn to project out, plus noise.
 */
function blobs(classes: number[], perClass: number, dim: number, seed: number) {
  const rng = new Prng(seed);
  const centre = new Map(classes.map((c) => [c, new Prng(1000 + c).normalArray(dim, 1)]));
  const nuisance = new Prng(99).normalArray(dim, 1);
  const x = new Float32Array(classes.length * perClass * dim);
  const y: number[] = [];
  let row = 0;
  for (const c of classes)
    for (let k = 0; k < perClass; k++, row++) {
      const m = centre.get(c)!;
      const s = 6 * rng.normal();
      for (let d = 0; d < dim; d++) x[row * dim + d] = m[d] + s * nuisance[d] + 1.5 * rng.normal();
      y.push(c);
    }
  return { x, y };
}

describe('trainHead', () => {
  it('is deterministic for a seed and differs for another seed', async () => {
    const { x, y } = blobs([1, 2, 3], 10, 16, 1);
    const opts = { dim: 4, epochs: 3, batchSize: 8 };
    const a = await trainHead(x, y, 16, { ...opts, seed: 5 });
    const b = await trainHead(x, y, 16, { ...opts, seed: 5 });
    const c = await trainHead(x, y, 16, { ...opts, seed: 6 });
    expect(a.layers[0].kernel).toEqual(b.layers[0].kernel);
    expect(a.layers[0].bias).toEqual(b.layers[0].bias);
    expect(a.losses).toEqual(b.losses);
    expect(a.layers[0].kernel).not.toEqual(c.layers[0].kernel);
    expect(a.steps).toBe(3 * Math.ceil(30 / 8));
  });

  it('learns: the loss falls and held-out images of the training classes are retrieved better', async () => {
    const dim = 32;
    const classes = [1, 2, 3, 4, 5, 6];
    const train = blobs(classes, 20, dim, 2);
    const heldOut = blobs(classes, 10, dim, 3);
    const epochs: number[] = [];
    const h = await trainHead(train.x, train.y, dim, {
      dim: 8,
      epochs: 30,
      batchSize: 32,
      lr: 1e-2,
      onEpoch: (e) => {
        epochs.push(e);
      },
    });
    expect(epochs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(h.losses.at(-1)!).toBeLessThan(h.losses[0] * 0.5);
    const bare = await recallAtK(heldOut.x, heldOut.y, dim);
    const head = await recallAtK(applyHead(h.layers, heldOut.x, heldOut.y.length), heldOut.y, 8);
    // Measured: bare 0.72, head 0.90.
    expect(head.recall[0]).toBeGreaterThan(bare.recall[0] + 0.1);
    expect(h.classes).toEqual(classes);
    expect(h.proxies).toHaveLength(classes.length * 8);
  });

  it('trains an MLP head (hidden ReLU layer)', async () => {
    const { x, y } = blobs([1, 2, 3], 12, 16, 4);
    const h = await trainHead(x, y, 16, { dim: 4, hidden: [12], epochs: 5, batchSize: 16 });
    expect(h.layers.map((l) => [l.inputDim, l.outputDim, l.activation])).toEqual([
      [16, 12, 'relu'],
      [12, 4, 'linear'],
    ]);
    const e = applyHead(h.layers, x, y.length);
    expect(e).toHaveLength(y.length * 4);
    expect(Math.hypot(...e.subarray(0, 4))).toBeCloseTo(1, 5);
  });

  it('validates options', () => {
    expect(() => resolveTrainHeadOptions({ dim: 0 })).toThrow(/dim/);
    expect(() => resolveTrainHeadOptions({ lr: -1 })).toThrow(/lr/);
    expect(() => resolveTrainHeadOptions({ hidden: [1.5] })).toThrow(/hidden/);
    expect(() => resolveTrainHeadOptions({ init: 'zeros' as 'pca' })).toThrow(/init/);
    expect(resolveTrainHeadOptions({}).epochs).toBe(20);
  });

  it('refuses a single class', async () => {
    await expect(trainHead(new Float32Array(8), [1, 1], 4)).rejects.toThrow(/2 classes/);
  });
});

describe('input scaling folded into the first layer', () => {
  it('x·W′ + b′ equals ((x − μ)/σ)·W + b', () => {
    const rng = new Prng(8);
    const [n, inDim, outDim] = [5, 6, 3];
    const x = rng.normalArray(n * inDim, 2).map((v) => v + 3);
    const w = rng.normalArray(inDim * outDim, 1);
    const b = rng.normalArray(outDim, 1);
    for (const mode of ['standardize', 'center'] as const) {
      const { mean, std } = featureStats(x, n, inDim, mode);
      const folded = foldStandardization(w, b, mean, std, inDim, outDim);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < outDim; j++) {
          let direct = b[j];
          let viaFold = folded.bias[j];
          for (let d = 0; d < inDim; d++) {
            direct += ((x[i * inDim + d] - mean[d]) / std[d]) * w[d * outDim + j];
            viaFold += x[i * inDim + d] * folded.kernel[d * outDim + j];
          }
          expect(viaFold).toBeCloseTo(direct, 4);
        }
      if (mode === 'center') expect(new Set(std).size).toBe(1);
      else expect(new Set(std).size).toBe(inDim);
    }
  });
});

describe('principalSubspace', () => {
  it('finds the high-variance directions, orthonormal and ordered', () => {
    const rng = new Prng(4);
    const [n, d] = [400, 10];
    const sd = [0.1, 5, 0.1, 3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]; // variance along axes 1, then 3
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = sd[j] * rng.normal();
    const q = principalSubspace(x, n, d, 2, new Prng(1));
    const col = (j: number) => Array.from({ length: d }, (_, i) => q[i * 2 + j]);
    expect(Math.abs(col(0)[1])).toBeGreaterThan(0.999);
    expect(Math.abs(col(1)[3])).toBeGreaterThan(0.999);
    const dot = col(0).reduce((s, v, i) => s + v * col(1)[i], 0);
    expect(Math.abs(dot)).toBeLessThan(1e-6);
  });

  it('fills directions the data do not span (rank < k) with orthonormal ones', () => {
    const x = new Float32Array(3 * 6);
    x[0] = 1;
    x[6 + 1] = -1; // rank 2
    const k = 4;
    const q = principalSubspace(x, 3, 6, k, new Prng(2));
    const g = normalizeRows(q, 6, k); // just exercise finiteness
    expect(g.every(Number.isFinite)).toBe(true);
    for (let a = 0; a < k; a++)
      for (let b = 0; b < k; b++) {
        let s = 0;
        for (let i = 0; i < 6; i++) s += q[i * k + a] * q[i * k + b];
        expect(s).toBeCloseTo(a === b ? 1 : 0, 5);
      }
  });
});

describe('writeHeadSpec', () => {
  it('writes a spec that loadModelSpec / loadDenseWeights read back bit-exactly', async () => {
    const { x, y } = blobs([1, 2], 6, 1280, 5);
    const h = await trainHead(x, y, 1280, { dim: 8, epochs: 1 });
    const out = path.join(tmp, 'spec-out');
    const specPath = await writeHeadSpec(defaultModelSpec(), h.layers, out, 'unit-head');
    const raw = JSON.parse(await readFile(specPath, 'utf8'));
    expect(path.isAbsolute(raw.model)).toBe(false);
    expect(raw.head).toMatchObject({ type: 'gap', weights: 'head.bin' });
    expect(raw.l2normalize).toBe(true);
    const spec = await loadModelSpec(specPath);
    expect(spec.modelPath).toBe(defaultModelSpec().modelPath);
    expect(spec.targetLayer).toBe('out_relu');
    const [layer] = await loadDenseWeights(spec);
    expect(layer.kernel.shape).toEqual([1280, 8]);
    expect(Float32Array.from(layer.kernel.dataSync())).toEqual(h.layers[0].kernel);
    expect(Float32Array.from(layer.bias!.dataSync())).toEqual(h.layers[0].bias);
    layer.kernel.dispose();
    layer.bias?.dispose();
  });
});
