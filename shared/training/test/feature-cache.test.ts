import { appendFile, mkdir, mkdtemp, readdir, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultModelSpec, EmbeddingCam, initBackend, loadCamModel } from '@embedcam/cam';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import { loadItems, packBatch, readLocalImage } from '@embedcam/explain';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backboneSpec, extractFeatures, FeatureCache } from '../src/index.js';

let tmp: string;
beforeAll(async () => {
  await initBackend();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-fcache-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function fakeItems(dir: string, n: number): Promise<DatasetItem[]> {
  const items: DatasetItem[] = [];
  for (let i = 0; i < n; i++) {
    const uri = path.join(dir, `img${i}.jpg`);
    await writeFile(uri, `image ${i}`);
    items.push({ id: String(i + 1), uri, label: 1 + (i % 2) });
  }
  return items;
}

const open = (dir: string, dim?: number) =>
  FeatureCache.open({
    dir,
    fingerprint: 'fp1',
    modelName: 'm',
    dataset: { name: 'd', source: '/data/d' },
    dim,
  });

describe('FeatureCache', () => {
  it('stores features by image id and reads them back after reopening', async () => {
    const dir = path.join(tmp, 'a');
    const items = await fakeItems(tmp, 3);
    const c = await open(dir);
    expect(await c.get(items[0])).toBeNull();
    await c.add(items.slice(0, 2).map((item, i) => ({ item, feature: Float32Array.from([i, i + 0.5, -i]) })));
    const again = await open(dir);
    expect(again.size).toBe(2);
    expect(await again.get(items[1])).toEqual(Float32Array.from([1, 1.5, -1]));
    expect(await again.get(items[2])).toBeNull();
    // <dir>/<fingerprint>/<dataset hash>.bin + .json
    const files = await readdir(path.join(dir, 'fp1'));
    expect(files.filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(1);
    // Appending later keeps the earlier rows.
    await again.add([{ item: items[2], feature: Float32Array.from([7, 8, 9]) }]);
    const third = await open(dir);
    expect(await third.get(items[0])).toEqual(Float32Array.from([0, 0.5, -0]));
    expect(await third.get(items[2])).toEqual(Float32Array.from([7, 8, 9]));
  });

  it('misses when the image file changed, or the item points elsewhere', async () => {
    const dir = path.join(tmp, 'b');
    const sub = path.join(tmp, 'b-img');
    await rm(sub, { recursive: true, force: true });
    await mkdir(sub);
    const items = await fakeItems(sub, 2);
    const c = await open(dir);
    await c.add(items.map((item) => ({ item, feature: Float32Array.from([1, 2]) })));
    expect(await c.get(items[0])).not.toBeNull();
    await appendFile(items[0].uri, 'changed');
    expect(await c.get(items[0])).toBeNull();
    const t = new Date('2020-01-01T00:00:00Z');
    await utimes(items[1].uri, t, t);
    expect(await c.get(items[1])).toBeNull();
    expect(await c.get({ ...items[0], uri: '/elsewhere.jpg' })).toBeNull();
  });

  it('cuts off rows an interrupted write left past the index, and starts over on a short data file', async () => {
    const dir = path.join(tmp, 'c');
    const items = await fakeItems(tmp, 2);
    const c = await open(dir);
    await c.add([{ item: items[0], feature: Float32Array.from([1, 2, 3, 4]) }]);
    await appendFile(c.binPath, Buffer.alloc(10)); // garbage of a write that never reached the index
    const reopened = await open(dir);
    expect((await stat(c.binPath)).size).toBe(16);
    expect(await reopened.get(items[0])).toEqual(Float32Array.from([1, 2, 3, 4]));
    await truncate(c.binPath, 8); // data file shorter than the index says: unusable
    const reset = await open(dir);
    expect(reset.size).toBe(0);
    expect(await reset.get(items[0])).toBeNull();
  });

  it('refuses features of another dimension', async () => {
    const dir = path.join(tmp, 'd');
    const items = await fakeItems(tmp, 2);
    const c = await open(dir);
    await c.add([{ item: items[0], feature: Float32Array.from([1, 2]) }]);
    await expect(c.add([{ item: items[1], feature: Float32Array.from([1, 2, 3]) }])).rejects.toThrow(
      /dimension/,
    );
    expect((await open(dir, 3)).size).toBe(0); // opened for another dimension: starts over
  });
});

describe.skipIf(!HAS_SHARED)('extractFeatures on the shared model and CUB images', () => {
  it('computes GAP features once, then serves them from the cache without the backbone', async () => {
    const ds = await openDataset(CUB_DIR);
    const items = selectItems(ds, { classes: '1-2', perClass: 3 });
    const dir = path.join(tmp, 'real');
    const progress: number[] = [];
    const first = await extractFeatures({
      spec: defaultModelSpec(),
      items,
      dataset: ds,
      cacheDir: dir,
      onProgress: (done) => progress.push(done),
    });
    expect(first.cache).toMatchObject({ hits: 0, misses: 6, enabled: true });
    expect(first.backboneSkipped).toBe(false);
    expect(first.dim).toBe(1280);
    expect(first.items.map((i) => i.id)).toEqual(items.map((i) => i.id));
    expect(progress.at(-1)).toBe(6);
    expect(first.cache.path).toContain(path.join(dir, first.cache.fingerprint));

    const second = await extractFeatures({ spec: defaultModelSpec(), items, dataset: ds, cacheDir: dir });
    expect(second.cache).toMatchObject({ hits: 6, misses: 0 });
    expect(second.backboneSkipped).toBe(true);
    expect(second.features).toEqual(first.features);

    // The features are the spatial mean of out_relu (no L2 normalisation): compare with the model.
    const spec = backboneSpec(defaultModelSpec());
    expect(spec.l2normalize).toBe(false);
    const model = await loadCamModel(spec);
    try {
      const { loaded } = await loadItems(items.slice(0, 2), spec, readLocalImage);
      const input = packBatch(
        loaded.map((l) => l.image),
        spec,
        model.backbone.inputLayout,
      );
      const a = await model.backbone.forward(input, 2);
      const gap = (await a.mean([1, 2]).data()) as Float32Array;
      a.dispose();
      let maxDiff = 0;
      for (let i = 0; i < gap.length; i++) maxDiff = Math.max(maxDiff, Math.abs(gap[i] - first.features[i]));
      expect(maxDiff).toBeLessThan(1e-5);
      const norm = Math.hypot(...first.features.subarray(0, 1280));
      expect(Math.abs(norm - 1)).toBeGreaterThan(0.01); // not normalised
      expect(new EmbeddingCam(model).gradient).toBe('auto');
    } finally {
      model.dispose();
    }
  });

  it('with the cache disabled always runs the backbone', async () => {
    const ds = await openDataset(CUB_DIR);
    const items = selectItems(ds, { classes: '1', perClass: 2 });
    const r = await extractFeatures({ spec: defaultModelSpec(), items, dataset: ds, cacheDir: null });
    expect(r.cache).toMatchObject({ enabled: false, hits: 0, misses: 2 });
  });
});
