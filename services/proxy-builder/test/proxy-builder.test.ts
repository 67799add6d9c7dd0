import { decodeProxySet, EmbeddingCam, loadCamModel, modelFingerprint, resolveModel } from '@embedcam/cam';
import { EmbedcamClient } from '@embedcam/client';
import { openDataset, selectItems } from '@embedcam/datasets';
import { buildProxiesFromItems, readLocalImage } from '@embedcam/explain';
import { storageKeys } from '@embedcam/queues';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ProxyBuilderHandle, startProxyBuilder } from '../src/index.js';

describe.skipIf(!HAS_SHARED)('proxy-builder: sharded flow on real CUB images', () => {
  let env: Awaited<ReturnType<typeof pipelineEnv>>;
  let builder: ProxyBuilderHandle;
  let client: EmbedcamClient;

  beforeAll(async () => {
    // 7 images per shard: 60 train images of classes 1-2 → 9 shards, the last one short.
    env = await pipelineEnv({ PROXY_SHARD_SIZE: 7 });
    builder = await startProxyBuilder(env.config);
    client = new EmbedcamClient(env.config);
  });
  afterAll(async () => {
    await client?.close();
    await builder?.close();
    await env?.cleanup();
  });

  for (const scheme of ['mean', 'single'] as const) {
    it(`${scheme}: the sharded build is bit-identical to the one-process build`, async () => {
      const id = await client.buildProxies({ dataset: CUB_DIR, split: 'train', classes: '1-2', scheme });
      const [data, meta] = await Promise.all([
        client.store.get(storageKeys.proxiesData(id)),
        client.store.get(storageKeys.proxiesMeta(id)),
      ]);
      const sharded = decodeProxySet(data, meta.toString('utf8'));
      expect(sharded.meta.id).toBe(id);
      expect(sharded.meta.classes.map((c) => c.count)).toEqual([30, 30]);

      // The same default model the client and the proxy-builder resolve (ONNX where model.onnx exists).
      const { spec } = await resolveModel(undefined);
      const cam = new EmbeddingCam(await loadCamModel(spec));
      const ds = await openDataset(CUB_DIR);
      const { proxies: local } = await buildProxiesFromItems(
        cam,
        selectItems(ds, { split: 'train', classes: '1-2' }),
        {
          scheme,
          model: { name: spec.name, fingerprint: await modelFingerprint(spec) },
          dataset: { name: ds.name, source: ds.source, split: 'train', classes: '1-2' },
          read: readLocalImage,
        },
      );
      cam.model.dispose();
      expect(local.meta.id).toBe(id);
      expect(Buffer.from(sharded.vectors.buffer).equals(Buffer.from(local.vectors.buffer))).toBe(true);
      expect(sharded.meta.classes.map((c) => c.medoidId)).toEqual(local.meta.classes.map((c) => c.medoidId));
    });
  }

  it('a second build of the same set is found in storage and not rebuilt', async () => {
    const id = await client.buildProxies({
      dataset: CUB_DIR,
      split: 'train',
      classes: '1-2',
      scheme: 'mean',
    });
    const shardsBefore = (await client.store.get(storageKeys.proxiesMeta(id))).toString();
    const again = await client.buildProxies({
      dataset: CUB_DIR,
      split: 'train',
      classes: '1-2',
      scheme: 'mean',
    });
    expect(again).toBe(id);
    expect((await client.store.get(storageKeys.proxiesMeta(id))).toString()).toBe(shardsBefore);
  });
});
