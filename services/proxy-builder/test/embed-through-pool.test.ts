import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbeddingCam, loadCamModel, resolveModel } from '@embedcam/cam';
import { ComputePool } from '@embedcam/compute';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import { embedItems, readLocalImage } from '@embedcam/explain';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embedThroughPool } from '../src/embed-through-pool.js';

describe.skipIf(!HAS_SHARED)('embedThroughPool', () => {
  let pool: ComputePool;
  let cam: EmbeddingCam;
  let dir: string;
  let items: DatasetItem[];

  beforeAll(async () => {
    const { ref, spec } = await resolveModel(undefined); // as the proxy-builder's requests carry it
    cam = new EmbeddingCam(await loadCamModel(spec));
    pool = await ComputePool.start({ model: ref, threads: 2 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-etp-'));
    const corrupt = path.join(dir, 'corrupt.jpg');
    await writeFile(corrupt, 'not an image');
    const good = selectItems(await openDataset(CUB_DIR), { split: 'train', classes: '1-2', perClass: 3 });
    items = [
      ...good.slice(0, 2),
      { ...good[2], id: 'missing', uri: path.join(dir, 'missing.jpg') },
      ...good.slice(3, 5),
      { ...good[5], id: 'corrupt', uri: corrupt },
    ];
  });
  afterAll(async () => {
    await pool?.close();
    cam?.model.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives embedItems’ members (same bits) and failures, in item order, over several batches', async () => {
    const progress: number[] = [];
    const got = await embedThroughPool(pool, items, {
      read: readLocalImage,
      batchSize: 2,
      onProgress: (done) => progress.push(done),
    });
    const want = await embedItems(cam, items, { read: readLocalImage, batchSize: 2 });
    expect(got.members.map((m) => m.id)).toEqual(want.members.map((m) => m.id));
    const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    got.members.forEach((m, i) => {
      expect(bits(m.embedding).equals(bits(want.members[i].embedding)), m.id).toBe(true);
    });
    expect(got.failed).toEqual(want.failed);
    expect(got.failed.map((f) => [f.item.id, f.code])).toEqual([
      ['missing', 'not-found'],
      ['corrupt', 'corrupt'],
    ]);
    expect(Math.max(...progress)).toBe(items.length);
  });
});
