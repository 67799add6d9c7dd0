import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { QUEUES, runKeys, storageKeys } from '@embedcam/queues';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbedcamClient } from '../src/index.js';

describe.skipIf(!HAS_SHARED)('EmbedcamClient.submitRun: idempotent submission', () => {
  let env: Awaited<ReturnType<typeof pipelineEnv>>;
  let client: EmbedcamClient;
  let tmp: string;
  let manifest: string;

  beforeAll(async () => {
    env = await pipelineEnv();
    client = new EmbedcamClient(env.config);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-client-'));
    manifest = path.join(tmp, 'm.jsonl');
    const img = path.join(CUB_DIR, 'images/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg');
    await writeFile(
      manifest,
      [1, 2, 3].map((i) => JSON.stringify({ id: `img-${i}`, uri: img, label: 1, split: 'test' })).join('\n'),
    );
    // An existing proxy set (only its presence is checked at submission).
    await client.store.put(storageKeys.proxiesMeta('p1'), '{}');
  });
  afterAll(async () => {
    await client?.close();
    await env?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('enqueues only images without a result, and starts afresh when the store lost the run', async () => {
    const first = await client.submitRun({ dataset: manifest, proxyId: 'p1', runId: 'r1' });
    expect(first).toMatchObject({ runId: 'r1', total: 3, enqueued: 3, alreadyDone: 0 });
    const queue = new Queue(QUEUES.heatmaps, { connection: client.redis, prefix: env.prefix });
    expect(await queue.getJobCountByTypes('waiting')).toBe(3);

    // One image has a stored, counted result: a re-submission enqueues the other two (BullMQ keeps
    // their ids once). The store decides what is done; Redis only what is counted.
    await client.store.put(storageKeys.result('r1', 'img-2'), '{}');
    await client.redis.sadd(runKeys(env.prefix, 'r1').done, 'img-2');
    const again = await client.submitRun({ dataset: manifest, proxyId: 'p1', runId: 'r1' });
    expect(again).toMatchObject({ total: 3, enqueued: 2, alreadyDone: 1 });
    expect(await queue.getJobCountByTypes('waiting')).toBe(3);

    // The store no longer has the run (wiped): Redis's memory of it is dropped, everything is enqueued.
    await client.store.delete(storageKeys.runConfig('r1'));
    await queue.obliterate({ force: true });
    const fresh = await client.submitRun({ dataset: manifest, proxyId: 'p1', runId: 'r1' });
    expect(fresh).toMatchObject({ total: 3, enqueued: 3, alreadyDone: 0 });
    expect(await client.redis.scard(runKeys(env.prefix, 'r1').done)).toBe(0);
    await queue.close();
  });
});
