// Shared set-up of the worker tests: real Redis (unique prefix), a LocalStore in a temp dir, mean
// proxies built in-process from CUB train images, a run config, and heatmap jobs for CUB test images
// plus deliberately bad ones.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  defaultModelSpec,
  EmbeddingCam,
  encodeProxySet,
  loadCamModel,
  modelFingerprint,
  type ProxySet,
} from '@embedcam/cam';
import { type Config, loadConfig } from '@embedcam/config';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import { buildProxiesFromItems, explainBatch, loadItems, readLocalImage } from '@embedcam/explain';
import { encodeHeatmapPng, renderOverlay } from '@embedcam/images';
import {
  createRedis,
  deleteKeysWithPrefix,
  type HeatmapJob,
  heatmapJobFor,
  heatmapJobId,
  QUEUES,
  type ResultJob,
  type RunConfig,
  storageKeys,
} from '@embedcam/queues';
import { LocalStore, type ObjectStore } from '@embedcam/storage';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe } from 'vitest';
import { REDIS_URL, silent, uniquePrefix } from './helpers.js';

export { REDIS_URL, silent };

export interface Fixture {
  tmp: string;
  store: LocalStore;
  cam: EmbeddingCam;
  proxies: ProxySet;
  fingerprint: string;
  /** CUB test images of classes 1–3 (with boxes), by id. */
  testItems: DatasetItem[];
  /** A truncated JPEG on disk. */
  corruptPath: string;
  close(): Promise<void>;
}

export async function createFixture(): Promise<Fixture> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-worker-'));
  const store = new LocalStore(path.join(tmp, 'store'));
  const spec = defaultModelSpec();
  const model = await loadCamModel(spec);
  const cam = new EmbeddingCam(model);
  const fingerprint = await modelFingerprint(spec);
  const ds = await openDataset(CUB_DIR);
  const ref = selectItems(ds, { classes: '1-3', split: 'train', perClass: 4 });
  const { proxies } = await buildProxiesFromItems(cam, ref, {
    scheme: 'mean',
    model: { name: spec.name, fingerprint },
    dataset: { name: ds.name, source: ds.source, split: 'train', classes: '1-3' },
    classNames: ds.classes,
    read: readLocalImage,
  });
  const { data, meta } = encodeProxySet(proxies);
  await store.put(storageKeys.proxiesData(proxies.meta.id), data);
  await store.put(storageKeys.proxiesMeta(proxies.meta.id), meta);
  const testItems = selectItems(ds, { classes: '1-3', split: 'test' });
  const corruptPath = path.join(tmp, 'corrupt.jpg');
  await writeFile(corruptPath, (await readFile(testItems[0].uri)).subarray(0, 700));
  return {
    tmp,
    store,
    cam,
    proxies,
    fingerprint,
    testItems,
    corruptPath,
    async close() {
      model.dispose();
      await store.close();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * A block of tests on the shared model and CUB images (skipped without the shared data). The
 * fixture they get is filled in before the first test and disposed of after the last.
 */
export function describeWithFixture(title: string, tests: (f: Fixture) => void): void {
  describe.skipIf(!HAS_SHARED)(`${title} (real Redis, LocalStore, shared MobileNetV2, CUB)`, () => {
    const f = {} as Fixture;
    beforeAll(async () => {
      Object.assign(f, await createFixture());
    });
    afterAll(async () => {
      await f.close?.();
    });
    tests(f);
  });
}

/** A run on its own Redis prefix: config, run.json, queues, and clean-up of every key it made. */
export interface TestRun {
  runId: string;
  prefix: string;
  config: Config;
  redis: Redis;
  heatmaps: Queue;
  results: Queue;
  add(jobs: HeatmapJob[], opts?: { attempts?: number; backoffMs?: number }): Promise<void>;
  /** Resolves with the result jobs once there are `n` of them (or rejects after timeoutMs). */
  waitForResults(n: number, timeoutMs?: number): Promise<ResultJob[]>;
  cleanup(): Promise<void>;
}

export async function createRun(
  f: Fixture,
  overrides: Partial<Record<keyof Config, unknown>> = {},
  run: Partial<RunConfig> = {},
): Promise<TestRun> {
  const prefix = uniquePrefix();
  const runId = `run-${randomBytes(4).toString('hex')}`;
  const config = loadConfig(
    {},
    {
      REDIS_URL,
      EMBEDCAM_PREFIX: prefix,
      STORAGE_URI: f.store.root,
      // The deliberately bad images (corrupt.jpg, missing files) live in the fixture's temp dir.
      EMBEDCAM_ALLOWED_URIS: f.tmp,
      COMPUTE_THREADS: 2,
      WORKER_CONCURRENCY: 16,
      BATCH_MAX_SIZE: 8,
      BATCH_MAX_WAIT_MS: 20,
      JOB_ATTEMPTS: 3,
      LOG_LEVEL: 'silent',
      ...overrides,
    },
  );
  const runConfig: RunConfig = {
    runId,
    createdAt: new Date().toISOString(),
    model: 'default',
    modelName: f.cam.model.spec.name,
    modelFingerprint: f.fingerprint,
    proxyId: f.proxies.meta.id,
    target: 'gt',
    resolution: 'eval224',
    overlays: true,
    tau: 0.2,
    total: 0,
    dataset: { name: 'cub200-subset', source: CUB_DIR, split: 'test', classes: '1-3' },
    ...run,
  };
  await f.store.put(storageKeys.runConfig(runId), JSON.stringify(runConfig));
  const redis = createRedis(REDIS_URL);
  const heatmaps = new Queue(QUEUES.heatmaps, { connection: redis, prefix });
  const results = new Queue(QUEUES.results, { connection: redis, prefix });
  return {
    runId,
    prefix,
    config,
    redis,
    heatmaps,
    results,
    async add(jobs, o = {}) {
      await heatmaps.addBulk(
        jobs.map((data) => ({
          name: 'heatmap',
          data,
          opts: {
            jobId: heatmapJobId(data.runId ?? runId, String(data.imageId)),
            attempts: o.attempts ?? config.JOB_ATTEMPTS,
            backoff: { type: 'exponential', delay: o.backoffMs ?? 100 },
          },
        })),
      );
    },
    async waitForResults(n, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      const states = ['waiting', 'active', 'completed', 'failed', 'delayed'] as const;
      for (;;) {
        // Counting is cheap; the jobs are fetched once, at the end.
        const counts = await results.getJobCounts(...states);
        const have = Object.values(counts).reduce((a, b) => a + b, 0);
        if (have >= n) return (await results.getJobs([...states])).map((j) => j.data as ResultJob);
        if (Date.now() > deadline) throw new Error(`Only ${have} of ${n} results after ${timeoutMs} ms.`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async cleanup() {
      await heatmaps.close();
      await results.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    },
  };
}

/** A heatmap job for a dataset item of this run. */
export function jobFor(runId: string, it: DatasetItem, patch: Partial<HeatmapJob> = {}): HeatmapJob {
  return { ...heatmapJobFor(runId, it), ...patch };
}

/**
 * The one-process path on the same images, batches of 16, in this thread: `compute` is explainBatch
 * alone on decoded images; `pipeline` adds what the worker also does per image (decode + resize,
 * heatmap PNG, overlay), without the writes — images/s for both.
 */
export async function inProcessBaseline(
  f: Fixture,
  items: DatasetItem[],
): Promise<{ compute: number; pipeline: number }> {
  let computeMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < items.length; i += 16) {
    const { loaded } = await loadItems(items.slice(i, i + 16), f.cam.model.spec, readLocalImage);
    const t = performance.now();
    const { explained } = await explainBatch(f.cam, loaded, f.proxies);
    computeMs += performance.now() - t;
    await Promise.all(
      explained.map(async (e) => {
        const h = e.evaluated.heatmap;
        await encodeHeatmapPng(h.data, h.width, h.height);
        await renderOverlay(e.bytes, h.data, h.width, h.height, {
          boxes: e.item.bbox ? [{ box: e.item.bbox, color: [0, 255, 0] }] : [],
          format: 'jpeg',
        });
      }),
    );
  }
  const pipelineMs = performance.now() - t0;
  return { compute: (items.length / computeMs) * 1000, pipeline: (items.length / pipelineMs) * 1000 };
}

export type { ObjectStore };
export { silent as log };
