import { defaultModelSpec, EmbeddingCam, encodeProxySet, loadCamModel, type ProxySet } from '@embedcam/cam';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import {
  buildProxiesFromItems,
  type ExplainedImage,
  explainBatch,
  type LoadedItem,
  loadItems,
  packBatch,
  readLocalImage,
} from '@embedcam/explain';
import { encodeHeatmapPng, type PreparedImage, renderOverlay } from '@embedcam/images';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ComputeClosedError,
  ComputePool,
  ComputeThreadError,
  type ExplainOutcome,
  type PoolEvent,
} from '../src/index.js';

let cam: EmbeddingCam;
let proxies: ProxySet;
let encoded: { data: Buffer; meta: string };
let loaded: LoadedItem[];

/** A fresh copy of each image (the pool transfers, i.e. detaches, the pixels it is given). */
function inputs(items: LoadedItem[]) {
  return items.map((l) => ({ item: l.item, image: { ...l.image, pixels: l.image.pixels.slice() } }));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function expectSame(o: ExplainOutcome, e: ExplainedImage) {
  expect(o.ok).toBe(true);
  if (!o.ok) return;
  expect(maxAbsDiff(o.raw.data, e.raw.data)).toBeLessThan(1e-6);
  expect([o.raw.width, o.raw.height]).toEqual([e.raw.width, e.raw.height]);
  expect(maxAbsDiff(o.heatmap.data, e.evaluated.heatmap.data)).toBeLessThan(1e-6);
  expect(o.metrics).toEqual(e.evaluated.metrics);
  expect(o.score).toBeCloseTo(e.score, 6);
  expect(o.nearestLabel).toBe(e.nearestLabel);
  expect(o.targetLabel).toBe(e.targetLabel);
  expect(o.allZero).toBe(e.evaluated.allZero);
  expect(o.box).toEqual(e.evaluated.box);
}

describe.skipIf(!HAS_SHARED)('ComputePool on the shared MobileNetV2 and CUB images', () => {
  let pool: ComputePool;
  const events: PoolEvent[] = [];

  beforeAll(async () => {
    const model = await loadCamModel(defaultModelSpec());
    cam = new EmbeddingCam(model);
    const ds = await openDataset(CUB_DIR);
    const ref = selectItems(ds, { classes: '1-3', split: 'train', perClass: 4 });
    ({ proxies } = await buildProxiesFromItems(cam, ref, {
      scheme: 'mean',
      model: { name: model.spec.name },
      dataset: { name: ds.name, source: ds.source },
      read: readLocalImage,
    }));
    encoded = encodeProxySet(proxies);
    const test = selectItems(ds, { classes: '1-3', split: 'test', perClass: 2 });
    const bad: DatasetItem[] = [
      { ...test[0], id: 'bad-box', bbox: [5000, 5000, 10, 10] },
      { ...test[1], id: 'unknown-class', label: 77 },
    ];
    ({ loaded } = await loadItems([...test, ...bad], model.spec, readLocalImage));
    expect(loaded).toHaveLength(8);
    pool = await ComputePool.start({ model: 'default', threads: 2, onEvent: (e) => events.push(e) });
    pool.setProxies(proxies.meta.id, encoded.data, encoded.meta);
  });
  afterAll(async () => {
    await pool?.close();
    cam?.model.dispose();
  });

  it('reports the model it loaded, with the same fingerprint on every thread', () => {
    expect(pool.threads).toBe(2);
    expect(pool.info).toMatchObject({
      name: cam.model.spec.name,
      dim: 1280,
      input: { width: 224, height: 224 },
    });
    expect(pool.info.runtime).toBe(cam.model.backbone.runtime);
    expect(pool.info.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('gives the same maps, metrics and failures as explainBatch in this process', async () => {
    for (const target of ['gt', 'predicted'] as const) {
      const ref = await explainBatch(cam, loaded, proxies, { target });
      const outcomes = await pool.explain({
        proxyId: proxies.meta.id,
        target,
        resolution: 'eval224',
        items: inputs(loaded),
      });
      expect(outcomes).toHaveLength(loaded.length);
      const byId = new Map(ref.explained.map((e) => [e.item.id, e]));
      expect(byId.size).toBe(target === 'gt' ? 6 : 7);
      loaded.forEach((l, i) => {
        const e = byId.get(l.item.id);
        if (e) expectSame(outcomes[i], e);
      });
      const failures = Object.fromEntries(
        loaded.map((l, i) => [l.item.id, outcomes[i]]).filter(([, o]) => !(o as ExplainOutcome).ok),
      );
      const expected = Object.fromEntries(
        ref.failed.map((f) => [f.item.id, { ok: false, code: f.code, message: f.message }]),
      );
      // 'predicted' never needs the label's proxy, so only the bad box fails there.
      expect(Object.keys(expected)).toEqual(target === 'gt' ? ['bad-box', 'unknown-class'] : ['bad-box']);
      expect(failures).toEqual(expected);
    }
  });

  it('spreads concurrent batches over the threads; results do not depend on batch composition', async () => {
    const ref = await explainBatch(cam, loaded.slice(0, 6), proxies);
    const before = pool.stats();
    const singles = await Promise.all(
      loaded
        .slice(0, 6)
        .map((l) =>
          pool.explain({ proxyId: proxies.meta.id, target: 'gt', resolution: 'eval224', items: inputs([l]) }),
        ),
    );
    singles.forEach((o, i) => {
      expectSame(o[0], ref.explained[i]);
    });
    const after = pool.stats();
    expect(after.batches - before.batches).toBe(6);
    expect(after.images - before.images).toBe(6);
    expect(after).toMatchObject({ busy: 0, queued: 0, ready: 2 });
  });

  it('decodes files and renders PNG + overlay on the thread, byte-identical to the main-thread functions', async () => {
    const three = loaded.slice(0, 3);
    const corrupt = {
      item: { ...three[0].item, id: 'truncated' },
      bytes: new Uint8Array(three[0].bytes.subarray(0, 600)),
    };
    const out = await pool.explain({
      proxyId: proxies.meta.id,
      target: 'gt',
      resolution: 'eval224',
      render: { heatmapPng: true, overlay: true },
      items: [...three.map((l) => ({ item: l.item, bytes: new Uint8Array(l.bytes) })), corrupt],
    });
    const ref = await explainBatch(cam, three, proxies);
    for (const [i, e] of ref.explained.entries()) {
      const o = out[i];
      expectSame(o, e);
      if (!o.ok) continue;
      expect(o.original).toEqual(e.image.original);
      const h = e.evaluated.heatmap;
      expect(Buffer.from(o.png!).equals(await encodeHeatmapPng(h.data, h.width, h.height))).toBe(true);
      const overlay = await renderOverlay(e.bytes, h.data, h.width, h.height, {
        boxes: e.item.bbox ? [{ box: e.item.bbox, color: [0, 255, 0] }] : [],
        format: 'jpeg',
        label: e.item.uri,
      });
      expect(Buffer.from(o.overlay!).equals(overlay)).toBe(true);
    }
    expect(out[3]).toMatchObject({ ok: false, code: 'corrupt', message: expect.stringMatching(/truncated/) });
  });

  it('evaluates at the original resolution when asked', async () => {
    const ref = await explainBatch(cam, loaded.slice(0, 2), proxies, { resolution: 'original' });
    const out = await pool.explain({
      proxyId: proxies.meta.id,
      target: 'gt',
      resolution: 'original',
      items: inputs(loaded.slice(0, 2)),
    });
    expectSame(out[0], ref.explained[0]);
    expect(out[0].ok && out[0].heatmap.width).toBe(loaded[0].image.original.width);
  });

  it('embeds like EmbeddingCam.embed', async () => {
    const images: PreparedImage[] = loaded
      .slice(0, 3)
      .map((l) => ({ ...l.image, pixels: l.image.pixels.slice() }));
    const { embeddings, dim } = await pool.embed(images);
    const ref = await cam.embed(
      packBatch(
        loaded.slice(0, 3).map((l) => l.image),
        cam.model.spec,
        'nhwc',
      ),
      3,
    );
    expect(dim).toBe(1280);
    expect(maxAbsDiff(embeddings, ref)).toBeLessThan(1e-6);
  });

  it('refuses a batch for a proxy set it was not given', async () => {
    await expect(
      pool.explain({
        proxyId: 'nope',
        target: 'gt',
        resolution: 'eval224',
        items: inputs(loaded.slice(0, 1)),
      }),
    ).rejects.toThrow(/nope is unknown/);
  });

  it('a corrupt proxy set fails the batches that use it, not the thread', async () => {
    const data = Buffer.from(encoded.data);
    data[0] ^= 0xff;
    pool.setProxies('corrupt', data, encoded.meta);
    await expect(
      pool.explain({
        proxyId: 'corrupt',
        target: 'gt',
        resolution: 'eval224',
        items: inputs(loaded.slice(0, 1)),
      }),
    ).rejects.toThrow(/checksum mismatch/);
    expect(pool.stats().crashes).toBe(0);
  });

  it('survives a thread crash: the lost batch rejects (transient), queued batches still complete', async () => {
    const crashing = await ComputePool.start({
      model: 'default',
      threads: 1,
      crashOnItemId: 'poison',
      restartDelayMs: 50,
      onEvent: (e) => events.push(e),
    });
    try {
      crashing.setProxies(proxies.meta.id, encoded.data, encoded.meta);
      const poison = inputs(loaded.slice(0, 2));
      poison[1].item = { ...poison[1].item, id: 'poison' };
      const req = (items: ReturnType<typeof inputs>) =>
        crashing.explain({ proxyId: proxies.meta.id, target: 'gt', resolution: 'eval224', items });
      const lost = req(poison);
      const queued = req(inputs(loaded.slice(2, 4))); // waits behind the poisoned batch on the only thread
      const err = await lost.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ComputeThreadError);
      expect((err as ComputeThreadError).permanent).toBe(false);
      expect(String(err)).toMatch(/exited with code 70/);
      const ref = await explainBatch(cam, loaded.slice(2, 4), proxies);
      const out = await queued; // ran on the restarted thread, which needed the proxies again
      expectSame(out[0], ref.explained[0]);
      expectSame(out[1], ref.explained[1]);
      expect(crashing.stats()).toMatchObject({ threads: 1, ready: 1, crashes: 1 });
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['thread-exit', 'thread-restarted']));
    } finally {
      await crashing.close();
    }
  });

  it('close() rejects queued work and refuses new batches', async () => {
    const p = await ComputePool.start({ model: 'default', threads: 1 });
    p.setProxies(proxies.meta.id, encoded.data, encoded.meta);
    const running = p.explain({
      proxyId: proxies.meta.id,
      target: 'gt',
      resolution: 'eval224',
      items: inputs(loaded),
    });
    const queued = p.explain({
      proxyId: proxies.meta.id,
      target: 'gt',
      resolution: 'eval224',
      items: inputs(loaded),
    });
    const settled = Promise.allSettled([running, queued]); // handled before close() rejects them
    await p.close();
    const [r1, r2] = await settled;
    expect(r1.status === 'rejected' && r1.reason).toBeInstanceOf(ComputeClosedError);
    expect(r2.status === 'rejected' && r2.reason).toBeInstanceOf(ComputeClosedError);
    await expect(
      p.explain({ proxyId: proxies.meta.id, target: 'gt', resolution: 'eval224', items: inputs(loaded) }),
    ).rejects.toBeInstanceOf(ComputeClosedError);
  });

  it('start() fails with the thread’s reason when the model cannot load', async () => {
    await expect(ComputePool.start({ model: '/nonexistent/spec.json', threads: 1 })).rejects.toMatchObject({
      name: 'ModelSpecError',
      message: expect.stringMatching(/nonexistent\/spec\.json/),
    });
  });
});
