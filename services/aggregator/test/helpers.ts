import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '@embedcam/config';
import { type FailureRecord, type ImageResult, type RunSummary, RunSummaryBuilder } from '@embedcam/explain';
import { computeImageMetrics, normalizeMinMax, upsampleBilinear } from '@embedcam/metrics';
import {
  createRedis,
  initRun,
  QUEUES,
  type ResultJob,
  type RunConfig,
  resultJobId,
  runKeys,
  storageKeys,
} from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import { LocalStore } from '@embedcam/storage';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { rng } from '@embedcam/test-support/random';
import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A private prefix, store directory, Redis client and results queue; `cleanup` removes them all. */
export async function testEnv(overrides: Partial<Record<keyof Config, unknown>> = {}) {
  const env = await pipelineEnv({ LOG_LEVEL: 'silent', ...overrides });
  const redis = createRedis(env.config.REDIS_URL!);
  const store = new LocalStore(env.dir);
  const queue = new Queue(QUEUES.results, {
    connection: createRedis(env.config.REDIS_URL!),
    prefix: env.prefix,
  });
  return {
    ...env,
    redis,
    store,
    queue,
    keys: (runId: string) => runKeys(env.prefix, runId),
    async cleanup() {
      await queue.close();
      await queue.disconnect();
      redis.disconnect();
      await env.cleanup();
    },
  };
}
export type TestEnv = Awaited<ReturnType<typeof testEnv>>;

// ---------------------------------------------------------------------------------------------
// Real results: `embedcam explain` on 30 CUB test images of classes 1–6 plus five odd ones (see
// fixtures/explain-cub/README.md): results.jsonl and the summary.json it wrote.

export interface Fixture {
  results: ImageResult[];
  failures: FailureRecord[];
  summary: RunSummary;
}

export function loadExplainFixture(): Fixture {
  const dir = path.join(here, 'fixtures/explain-cub');
  const results: ImageResult[] = [];
  const failures: FailureRecord[] = [];
  for (const line of readFileSync(path.join(dir, 'results.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const rec = JSON.parse(line) as (ImageResult | FailureRecord) & { error?: boolean };
    if (rec.error) {
      const { error: _, ...f } = rec as FailureRecord & { error: boolean };
      failures.push(f);
    } else results.push(rec as ImageResult);
  }
  const summary = JSON.parse(readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
  return { results, failures, summary };
}

// ---------------------------------------------------------------------------------------------
// Synthetic results: CAM-like maps through the real metric code, some zero maps, some images
// without a box, nearest proxies that are sometimes wrong.

export function syntheticResults(n: number, seed = 1, classes = 5): ImageResult[] {
  const rand = rng(seed);
  const out: ImageResult[] = [];
  const S = 32;
  for (let i = 0; i < n; i++) {
    const label = 1 + (i % classes);
    const zero = i % 17 === 5;
    const raw = Float32Array.from({ length: 49 }, () => (zero ? 0 : Math.max(0, rand() - 0.55)));
    const { map, allZero } = normalizeMinMax(upsampleBilinear(raw, 7, 7, S, S));
    const bw = 6 + Math.floor(rand() * 20);
    const bh = 6 + Math.floor(rand() * 20);
    const box: [number, number, number, number] = [
      Math.floor(rand() * (S - bw)),
      Math.floor(rand() * (S - bh)),
      bw,
      bh,
    ];
    const hasBox = i % 13 !== 7;
    out.push({
      id: `img-${i}`,
      uri: `s3://bucket/images/${i}.jpg`,
      label,
      className: `${String(label).padStart(3, '0')}.Class_${label}`,
      split: 'test',
      original: { width: S, height: S },
      bbox: hasBox ? box : undefined,
      targetLabel: label,
      score: rand(),
      nearestLabel: rand() < 0.3 ? 1 + ((label + 1) % classes) : label,
      allZero,
      rawMap: { width: 7, height: 7, data: Array.from(raw) },
      metrics: hasBox ? computeImageMetrics({ width: S, height: S, data: map }, box) : null,
      heatmap: `runs/x/heatmaps/img-${i}.png`,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

export function runConfig(runId: string, total: number, tau = 0.2): RunConfig {
  return {
    runId,
    createdAt: '2025-01-01T00:00:00.000Z',
    model: 'default',
    modelName: 'mobilenetv2-035-imagenet-gap',
    modelFingerprint: '07b9811ecb177308',
    proxyId: 'mean-test',
    target: 'gt',
    resolution: 'eval224',
    overlays: false,
    tau,
    total,
    dataset: { name: 'test', source: 'memory' },
  };
}

/** What a client and the workers leave behind: run meta, run.json and one result object per image. */
export async function seedRun(
  t: TestEnv,
  runId: string,
  results: readonly ImageResult[],
  failures: readonly FailureRecord[] = [],
  opts: { tau?: number; total?: number } = {},
): Promise<void> {
  const total = opts.total ?? results.length + failures.length;
  await initRun(t.redis, t.prefix, runId, total);
  await t.store.put(storageKeys.runConfig(runId), JSON.stringify(runConfig(runId, total, opts.tau)));
  await Promise.all(results.map((r) => t.store.put(storageKeys.result(runId, r.id), JSON.stringify(r))));
}

export function okJob(runId: string, r: ImageResult): ResultJob {
  return {
    runId,
    imageId: r.id,
    status: 'ok',
    key: storageKeys.result(runId, r.id),
    uri: r.uri,
    label: r.label,
  };
}

export function failedJob(runId: string, f: FailureRecord): ResultJob {
  return {
    runId,
    imageId: f.id,
    status: 'failed',
    failure: { code: f.code, message: f.message },
    uri: f.uri,
    label: f.label,
  };
}

/**
 * Adds each payload `copies` times: copy 0 under the deterministic job id, the others under
 * distinct ids (a retry after the first job was removed, a worker killed after enqueueing), in
 * shuffled order.
 */
export async function enqueue(
  queue: Queue,
  jobs: readonly ResultJob[],
  copies = 1,
  opts: JobsOptions = {},
  seed = 7,
): Promise<void> {
  const all: Array<{ name: string; data: ResultJob; opts: JobsOptions }> = [];
  for (const data of jobs) {
    for (let c = 0; c < copies; c++) {
      const id = resultJobId(data.runId, data.imageId);
      all.push({ name: 'result', data, opts: { ...opts, jobId: c === 0 ? id : `${id}/copy-${c}` } });
    }
  }
  const rand = rng(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  for (let i = 0; i < all.length; i += 500) await queue.addBulk(all.slice(i, i + 500));
}

/** summary.json of the one-process `explain` for the same images. */
export function referenceSummary(
  results: readonly ImageResult[],
  failures: readonly FailureRecord[] = [],
  tau = 0.2,
): RunSummary {
  const b = new RunSummaryBuilder();
  for (const r of results) b.addResult(r);
  for (const f of failures) b.addFailure(f);
  return b.build({}, { tau });
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function readReport(store: ObjectStore, runId: string): Promise<RunSummary> {
  return JSON.parse((await store.get(storageKeys.report(runId))).toString()) as RunSummary;
}

/**
 * Deep equality where numbers may differ by `tol` (sums kept in Redis add up in another order):
 * same keys, same array lengths, same non-numbers; reports the path of the first difference.
 */
export function expectClose(actual: unknown, expected: unknown, tol = 1e-9, at = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Math.abs(actual - expected) > tol) {
      expect.fail(`${at}: ${actual} differs from ${expected} by more than ${tol}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${at} is an array`).toBe(true);
    const a = actual as unknown[];
    expect(a.length, `${at}.length`).toBe(expected.length);
    expected.forEach((e, i) => {
      expectClose(a[i], e, tol, `${at}[${i}]`);
    });
    return;
  }
  if (expected && typeof expected === 'object') {
    expect(actual && typeof actual === 'object', `${at} is an object`).toBeTruthy();
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const defined = (o: Record<string, unknown>) =>
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
    expect(defined(a), `${at} keys`).toEqual(defined(e));
    for (const k of defined(e)) expectClose(a[k], e[k], tol, `${at}.${k}`);
    return;
  }
  expect(actual, at).toEqual(expected);
}

/** Counters of the run and of each class, as Redis holds them now. */
export async function readCounters(redis: Redis, prefix: string, runId: string) {
  const k = runKeys(prefix, runId);
  const labels = (await redis.smembers(k.classes)).map(Number).sort((a, b) => a - b);
  const perClass = new Map<number, Record<string, string>>();
  for (const l of labels) perClass.set(l, await redis.hgetall(k.classCounters(l)));
  return {
    done: await redis.scard(k.done),
    failed: await redis.scard(k.failed),
    counters: await redis.hgetall(k.counters),
    perClass,
    rows: await redis.hlen(k.images),
  };
}
