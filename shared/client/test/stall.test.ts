import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { markProgress, QUEUES, type RunProgress, runKeys, storageKeys } from '@embedcam/queues';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { type Job, Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbedcamClient, RunStalledError } from '../src/index.js';

// Stand-ins for the services: BullMQ workers on the heatmaps and results queues of a private
// deployment, whose processors hang, drop jobs or count them as the aggregator would.
describe.skipIf(!HAS_SHARED)('stalled runs: status and waitForRun', () => {
  let env: Awaited<ReturnType<typeof pipelineEnv>>;
  let client: EmbedcamClient;
  let tmp: string;
  let manifest: string;
  const workers: Worker[] = [];

  beforeEach(async () => {
    env = await pipelineEnv({
      RUN_NO_WORKER_GRACE_MS: 1000,
      RUN_IDLE_GRACE_MS: 600,
      RUN_STALL_TIMEOUT_MS: 2500,
    });
    client = new EmbedcamClient(env.config);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-stall-'));
    manifest = path.join(tmp, 'm.jsonl');
    const img = path.join(CUB_DIR, 'images/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg');
    await writeFile(
      manifest,
      [1, 2, 3, 4]
        .map((i) => JSON.stringify({ id: `img-${i}`, uri: img, label: 1, split: 'test' }))
        .join('\n'),
    );
    await client.store.put(storageKeys.proxiesMeta('p1'), '{}');
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close(true)));
    await client?.close();
    await env?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const standIn = (queue: string, process: (job: Job) => Promise<unknown>, concurrency = 1) => {
    const w = new Worker(queue, process, {
      connection: { url: env.config.REDIS_URL },
      prefix: env.prefix,
      concurrency,
    });
    workers.push(w);
    return w;
  };
  const forever = () => new Promise(() => {});
  const submit = () => client.submitRun({ dataset: manifest, proxyId: 'p1', runId: 'r1' });

  it('services that are gone: stalled within the grace, and waitForRun rejects with the reason', async () => {
    let taken = false;
    standIn(QUEUES.heatmaps, () => {
      taken = true;
      return forever();
    });
    standIn(QUEUES.results, forever);
    await submit();
    expect((await client.status('r1')).status).toBe('running');
    // Both services die with a job in flight.
    while (!taken) await sleep(50);
    await Promise.all(workers.splice(0).map((w) => w.close(true)));

    const t0 = Date.now();
    const err = await client.waitForRun('r1', { pollMs: 50, stallCheckMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunStalledError);
    expect((err as Error).message).toMatch(
      /^run r1 is stalled: no worker has been connected to the heatmaps queue for 1 s; start `embedcam worker`$/,
    );
    expect(Date.now() - t0).toBeLessThan(2500);
    const s = await client.status('r1');
    expect(s).toMatchObject({ status: 'stalled', done: 0, total: 4 });
    expect(s.stalledReason).toMatch(/no worker has been connected to the heatmaps queue/);
  });

  it('jobs that are gone (taken and dropped without a result): stalled, nothing in flight', async () => {
    standIn(QUEUES.heatmaps, async () => undefined);
    standIn(QUEUES.results, forever);
    await submit();
    await expect(client.waitForRun('r1', { pollMs: 50, stallCheckMs: 100 })).rejects.toThrow(
      /^run r1 is stalled: none of its jobs is waiting, delayed or active, but only 0 of 4 images are counted/,
    );
  });

  it('jobs in flight that never finish: stalled after RUN_STALL_TIMEOUT_MS', async () => {
    standIn(QUEUES.heatmaps, forever, 4);
    standIn(QUEUES.results, forever);
    await submit();
    const t0 = Date.now();
    await expect(client.waitForRun('r1', { pollMs: 50, stallCheckMs: 100 })).rejects.toThrow(
      /^run r1 is stalled: no image has been counted for 2 s, in this run or any other \(0 of 4 counted\)$/,
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
  });

  it('a run that makes progress, slower overall than every grace, is never reported stalled', async () => {
    const k = runKeys(env.prefix, 'r1');
    standIn(QUEUES.results, forever);
    // Counts one image each 800 ms (as the aggregator would), then writes the report.
    standIn(QUEUES.heatmaps, async (job) => {
      await sleep(800);
      await client.redis.sadd(k.done, (job.data as { imageId: string }).imageId);
      await markProgress(client.redis, env.prefix, 'r1');
      if ((await client.redis.scard(k.done)) === 4) {
        await client.store.put(storageKeys.report('r1'), JSON.stringify({ images: { processed: 4 } }));
        await client.redis.hset(k.meta, 'status', 'complete');
      }
    });
    await submit();
    const seen: RunProgress[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        seen.push(await client.status('r1'));
        await sleep(100);
      }
    })();
    const report = await client.waitForRun('r1', { pollMs: 50, stallCheckMs: 100 });
    polling = false;
    await poll;
    expect(report).toEqual({ images: { processed: 4 } });
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.filter((p) => p.status === 'stalled')).toEqual([]);
  });
});
