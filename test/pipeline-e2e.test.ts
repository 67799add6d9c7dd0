import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { explainCommand, serviceEnv } from '@embedcam/cli';
import { EmbedcamClient } from '@embedcam/client';
import type { RunSummary } from '@embedcam/explain';
import { runKeys, storageKeys } from '@embedcam/queues';
import { S3Store } from '@embedcam/storage';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { s3ChildEnv, startS3Server } from '@embedcam/test-support/s3-server';
import { ServiceProcesses } from '@embedcam/test-support/service-processes';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Env = Awaited<ReturnType<typeof pipelineEnv>>;

/** Deep comparison of numbers to a tolerance (everything else exactly). */
function expectClose(actual: unknown, expected: unknown, tol: number, at = 'summary'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    expect(Math.abs(actual - expected), `${at}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual), at).toBe(true);
    expect((actual as unknown[]).length, at).toBe(expected.length);
    for (const [i, e] of expected.entries()) expectClose((actual as unknown[])[i], e, tol, `${at}[${i}]`);
  } else if (expected && typeof expected === 'object') {
    expect(Object.keys(actual as object).sort(), at).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected))
      expectClose((actual as Record<string, unknown>)[k], v, tol, `${at}.${k}`);
  } else {
    expect(actual, at).toEqual(expected);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!HAS_SHARED)(
  'the pipeline end to end: S3 storage, two worker processes, aggregator, proxy-builder',
  () => {
    let s3: Awaited<ReturnType<typeof startS3Server>>;
    let env: Env;
    let services: ServiceProcesses;
    let client: EmbedcamClient;
    let tmp: string;

    beforeAll(async () => {
      s3 = await startS3Server();
      // Short locks so the jobs of a killed process come back within seconds.
      env = await pipelineEnv({
        STORAGE_URI: `s3://${s3.bucket}`,
        JOB_LOCK_MS: 4000,
        STALLED_INTERVAL_MS: 1000,
        // Stall detection much quicker than its defaults: the kills below must not look like a stall.
        RUN_NO_WORKER_GRACE_MS: 20_000,
        RUN_IDLE_GRACE_MS: 5000,
        RUN_STALL_TIMEOUT_MS: 60_000,
      });
      tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-e2e-'));
      const childEnv: NodeJS.ProcessEnv = {
        ...serviceEnv(env.config, {
          ...process.env,
          LOG_LEVEL: 'warn',
          COMPUTE_THREADS: '1',
          AGGREGATOR_STALLED_MS: '1000',
          AGGREGATOR_LOCK_MS: '4000',
        }),
        ...s3ChildEnv(s3),
      };
      services = new ServiceProcesses(childEnv);
      services.start('proxy-builder');
      services.start('worker');
      services.start('worker');
      services.start('aggregator');
      client = new EmbedcamClient(env.config, new S3Store({ ...s3.connection, bucket: s3.bucket }));
    });

    afterAll(async () => {
      await services?.stopAll();
      await client?.close();
      await env?.cleanup();
      await s3?.stop();
      if (tmp) await rm(tmp, { recursive: true, force: true });
    });

    it('60 CUB images survive a kill -9 of a worker and an aggregator restart; the report equals one-process explain', async () => {
      const selection = { dataset: CUB_DIR, classes: '1-6', perClass: 10 };
      const submitted = await client.submitRun({ ...selection, proxies: 'mean' });
      expect(submitted.total).toBe(60);
      expect(submitted.enqueued).toBe(60);
      const { runId } = submitted;

      const [workerA] = services.procs.filter((p) => p.name === 'worker');
      const aggregator = services.procs.find((p) => p.name === 'aggregator')!;
      let killedWorker = false;
      let restartedAggregator = false;
      const deadline = Date.now() + 330_000;
      for (;;) {
        const p = await client.status(runId);
        if (p.status === 'complete') break;
        if (p.status === 'stalled')
          throw new Error(`run reported stalled: ${p.stalledReason}\n${services.logs()}`);
        if (Date.now() > deadline)
          throw new Error(`run did not complete: ${JSON.stringify(p)}\n${services.logs()}`);
        // Both kills at the first poll that sees 8 or more counted but not all: the aggregator first,
        // so nothing more is counted (and no report can be under way, which would hold the report
        // lock until it expires) until its replacement runs; then a worker with jobs in flight.
        if (!killedWorker && p.done >= 8 && p.done < p.total) {
          await services.kill(aggregator.proc);
          services.start('aggregator');
          restartedAggregator = true;
          await services.kill(workerA.proc); // kill -9 with jobs in flight
          services.start('worker');
          killedWorker = true;
        }
        await sleep(200);
      }
      expect(killedWorker && restartedAggregator).toBe(true);
      const report = await client.getReport(runId);

      // Every image exactly once.
      const keys = runKeys(env.prefix, runId);
      expect(await client.redis.scard(keys.done)).toBe(60);
      expect(await client.redis.hlen(keys.images)).toBe(60);
      expect(Number(await client.redis.hget(keys.counters, 'n'))).toBe(60);
      expect(report.images).toEqual({ selected: 60, processed: 60, failed: 0, withBox: 60 });
      const heatmaps: string[] = [];
      for await (const k of client.store.list(`runs/${runId}/heatmaps/`)) heatmaps.push(k);
      expect(heatmaps).toHaveLength(60);
      expect(await client.store.exists(storageKeys.imagesCsv(runId))).toBe(true);

      // The same images in one process.
      const local: RunSummary = await explainCommand({
        ...selection,
        model: undefined,
        proxies: 'mean',
        split: 'test',
        refSplit: 'train',
        target: 'gt',
        batchSize: 16,
        resolution: 'eval224',
        tau: 0.2,
        gradient: 'auto',
        overlays: false,
        out: path.join(tmp, 'explain'),
      });
      expectClose(report.metrics, local.metrics, 1e-6, 'metrics');
      expectClose(report.perClass, local.perClass, 1e-6, 'perClass');
      expectClose(report.audit, local.audit, 1e-6, 'audit');

      // Re-submitting a finished run enqueues nothing.
      const again = await client.submitRun({ ...selection, proxies: 'mean' });
      expect(again.runId).toBe(runId);
      expect(again.enqueued).toBe(0);
      expect(again.alreadyDone).toBe(60);
    }, 360_000); // processes, a kill and restarts on a shared 2-core machine

    it('a corrupt JPEG, a missing object, an unknown class and a box outside the image are listed with reasons', async () => {
      const lines = (await readFile(path.join(CUB_DIR, 'images.txt'), 'utf8')).trim().split('\n');
      const file = (id: number) => path.join(CUB_DIR, 'images', lines[id - 1].split(' ')[1]);
      const put = async (key: string, body: Buffer) => {
        await client.store.put(key, body);
        return `s3://${s3.bucket}/${key}`;
      };
      const good2 = await put('inputs/2.jpg', await readFile(file(2)));
      const good4 = await put('inputs/4.jpg', await readFile(file(4)));
      const corrupt = await put('inputs/corrupt.jpg', (await readFile(file(2))).subarray(0, 700));
      const items = [
        { id: 'ok-2', uri: good2, label: 1, bbox: [139, 30, 153, 264], split: 'test' },
        { id: 'ok-4', uri: good4, label: 1, bbox: [112, 90, 270, 143], split: 'test' },
        { id: 'corrupt', uri: corrupt, label: 1, bbox: [1, 1, 10, 10], split: 'test' },
        { id: 'missing', uri: `s3://${s3.bucket}/inputs/absent.jpg`, label: 1, split: 'test' },
        { id: 'unknown-class', uri: good2, label: 9, split: 'test' },
        { id: 'box-outside', uri: good2, label: 1, bbox: [900, 900, 50, 50], split: 'test' },
        { id: 'ref-1', uri: await put('inputs/1.jpg', await readFile(file(1))), label: 1, split: 'train' },
        { id: 'ref-3', uri: await put('inputs/3.jpg', await readFile(file(3))), label: 1, split: 'train' },
      ];
      const manifest = path.join(tmp, 'mixed.jsonl');
      await writeFile(manifest, `${items.map((i) => JSON.stringify(i)).join('\n')}\n`);
      const { runId, total } = await client.submitRun({ dataset: manifest, proxies: 'mean' });
      expect(total).toBe(6);
      const report = await client.waitForRun(runId, { timeoutMs: 120_000 });
      expect(report.images.processed).toBe(2);
      const reasons = Object.fromEntries(report.failures.map((f) => [f.id, f.code]));
      expect(reasons).toEqual({
        corrupt: 'corrupt',
        missing: 'not-found',
        'unknown-class': 'unknown-class',
        'box-outside': 'bad-box',
      });
      expect(report.failures.find((f) => f.id === 'missing')!.message).toMatch(/absent\.jpg/);
    });
  },
);
