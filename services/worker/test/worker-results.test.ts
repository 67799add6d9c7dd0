// The worker's results against the same images explained in this process, the codes that bad
// inputs fail with, and the worker under full compute load (throughput, batching, a responsive
// event loop). One file, so the model fixture is built once for both.
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import {
  type ExplainedImage,
  evaluateMap,
  explainBatch,
  type ImageResult,
  loadItems,
  readLocalImage,
} from '@embedcam/explain';
import { decodeHeatmapPng, quantiseUnit, readImageSize } from '@embedcam/images';
import { resultJobId, storageKeys } from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import { expect, it } from 'vitest';
import { type HeatmapWorker, startWorker } from '../src/index.js';
import { createRun, describeWithFixture, inProcessBaseline, jobFor, silent } from './fixture.js';

/** Deep equality with numbers compared to `tol` (absolute). */
function expectClose(actual: unknown, expected: unknown, tol: number, at = '$'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (Number.isNaN(expected)) expect(Number.isNaN(actual), at).toBe(true);
    else expect(Math.abs(actual - expected), `${at}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
  } else if (Array.isArray(expected) || ArrayBuffer.isView(expected)) {
    const a = actual as ArrayLike<unknown>;
    const e = expected as ArrayLike<unknown>;
    expect(a.length, `${at}.length`).toBe(e.length);
    for (let i = 0; i < e.length; i++) expectClose(a[i], e[i], tol, `${at}[${i}]`);
  } else if (expected && typeof expected === 'object') {
    expect(actual, at).toBeTypeOf('object');
    expect(Object.keys(actual as object).sort(), `${at} keys`).toEqual(Object.keys(expected).sort());
    for (const k of Object.keys(expected))
      expectClose((actual as never)[k], (expected as never)[k], tol, `${at}.${k}`);
  } else {
    expect(actual, at).toEqual(expected);
  }
}

async function readResult(store: ObjectStore, key: string): Promise<ImageResult> {
  return JSON.parse((await store.get(key)).toString('utf8')) as ImageResult;
}

describeWithFixture('heatmap worker results', (f) => {
  it('computes heatmaps, files and metrics identical to in-process explainBatch; bad inputs fail with their code', async () => {
    const run = await createRun(f);
    let w: HeatmapWorker | undefined;
    try {
      const good = f.testItems.filter((_, i) => i % 10 === 0).slice(0, 8);
      expect(good).toHaveLength(8);
      const base = good[0];
      const jobs = [
        ...good.map((it) => jobFor(run.runId, it)),
        jobFor(run.runId, base, { imageId: 'corrupt', uri: f.corruptPath }),
        jobFor(run.runId, base, { imageId: 'missing', uri: path.join(f.tmp, 'nope.jpg') }),
        jobFor(run.runId, base, { imageId: 'unknown-class', label: 77 }),
        jobFor(run.runId, base, { imageId: 'box-outside', bbox: [5000, 5000, 20, 20] }),
        jobFor(run.runId, base, { imageId: 'bad-uri', uri: 'gopher://x/y.jpg' }),
      ];
      await run.add(jobs);
      // A payload that breaks the schema (label is not a number) still gets a failed result.
      await run.heatmaps.add(
        'heatmap',
        { runId: run.runId, imageId: 'malformed', uri: base.uri, label: 'one' },
        { jobId: 'malformed', attempts: 3 },
      );
      w = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(jobs.length + 1);
      const byId = new Map(results.map((r) => [r.imageId, r]));
      expect(byId.size).toBe(jobs.length + 1);

      const failures = Object.fromEntries(
        results.filter((r) => r.status === 'failed').map((r) => [r.imageId, r.failure!.code]),
      );
      expect(failures).toEqual({
        corrupt: 'corrupt',
        missing: 'not-found',
        'unknown-class': 'unknown-class',
        'box-outside': 'bad-box',
        'bad-uri': 'bad-uri',
        malformed: 'bad-payload',
      });
      expect(byId.get('missing')!.failure!.message).toContain('nope.jpg');
      expect(byId.get('unknown-class')!.failure!.message).toMatch(/Class 77 has no proxy/);
      expect(byId.get('malformed')!.failure!.message).toMatch(/label/);

      // Result jobs carry deterministic ids; heatmap jobs all completed (permanent failures are not retried).
      const resultJobs = await run.results.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
      for (const j of resultJobs) expect(j.id).toBe(resultJobId(j.data.runId, j.data.imageId));
      const counts = await run.heatmaps.getJobCounts('completed', 'failed', 'waiting', 'active', 'delayed');
      expect(counts).toEqual({ completed: jobs.length + 1, failed: 0, waiting: 0, active: 0, delayed: 0 });
      const corruptJob = await run.heatmaps.getJob(`${run.runId}/corrupt`);
      expect(corruptJob!.returnvalue).toEqual({ status: 'failed', code: 'corrupt' });
      expect(corruptJob!.attemptsStarted).toBe(1);

      // The same images in this process.
      const { loaded } = await loadItems(good, f.cam.model.spec, readLocalImage);
      const ref = await explainBatch(f.cam, loaded, f.proxies);
      expect(ref.explained).toHaveLength(8);
      for (const e of ref.explained as ExplainedImage[]) {
        const r = byId.get(e.item.id)!;
        expect(r).toMatchObject({
          status: 'ok',
          key: storageKeys.result(run.runId, e.item.id),
          label: e.item.label,
        });
        const stored = await readResult(f.store, r.key!);
        expect(stored).toMatchObject({
          id: e.item.id,
          uri: e.item.uri,
          label: e.item.label,
          className: e.item.className,
          bbox: e.item.bbox,
          original: e.image.original,
          targetLabel: e.targetLabel,
          nearestLabel: e.nearestLabel,
          allZero: e.evaluated.allZero,
          heatmap: storageKeys.heatmap(run.runId, e.item.id),
          overlay: storageKeys.overlay(run.runId, e.item.id),
        });
        expect(stored.score).toBeCloseTo(e.score, 6);
        expectClose(stored.rawMap.data, Array.from(e.raw.data), 1e-6, `${e.item.id}.rawMap`);
        expectClose(stored.metrics, e.evaluated.metrics, 1e-9, `${e.item.id}.metrics`);
        // …and evaluateMap on the stored raw map gives the stored metrics.
        const again = evaluateMap(
          Float32Array.from(stored.rawMap.data),
          stored.rawMap.width,
          stored.rawMap.height,
          stored.original,
          stored.bbox,
        );
        expectClose(stored.metrics, again.metrics, 1e-9, `${e.item.id}.evaluateMap`);

        const png = await decodeHeatmapPng(await f.store.get(stored.heatmap!));
        expect([png.width, png.height]).toEqual([224, 224]);
        const want = e.evaluated.heatmap.data;
        let worst = 0;
        for (let i = 0; i < want.length; i++)
          worst = Math.max(worst, Math.abs(Math.round(png.data[i] * 255) - quantiseUnit(want[i])));
        expect(worst).toBe(0);
        const overlay = await readImageSize(await f.store.get(stored.overlay!), 'overlay');
        expect(overlay).toEqual(e.image.original);
      }
      const s = w.stats();
      expect(s.jobs).toMatchObject({ ok: 8, failed: 6, completed: 14, retried: 0, active: 0 });
      expect(s.compute).toHaveLength(1);
      expect(s.compute[0]).toMatchObject({ threads: 2, crashes: 0 });
      expect(s.batcher.items).toBe(11); // 8 good + corrupt + unknown class + bad box reach the threads
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });

  it('confines inputs: hostile URIs fail alone with forbidden / too-large while the run goes on', async () => {
    // Nothing allowed beyond the run's dataset (the CUB directory) and the store, except one
    // folder of the temp dir, so that an oversized file and an outward link can sit inside a root.
    const allowed = path.join(f.tmp, 'allowed');
    await mkdir(allowed, { recursive: true });
    await writeFile(path.join(allowed, 'big.jpg'), Buffer.alloc(600_000, 7));
    await symlink(f.corruptPath, path.join(allowed, 'link.jpg')).catch(() => undefined);
    const requests: string[] = [];
    const server = createServer((req, res) => {
      requests.push(req.url ?? '');
      res.end('x');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const run = await createRun(f, { EMBEDCAM_ALLOWED_URIS: allowed, EMBEDCAM_MAX_READ_BYTES: 500_000 });
    let w: HeatmapWorker | undefined;
    try {
      const good = f.testItems.filter((_, i) => i % 10 === 5).slice(0, 3);
      const base = good[0];
      const cubDir = path.dirname(path.dirname(path.dirname(base.uri)));
      const hostile: Record<string, string> = {
        passwd: '/etc/passwd',
        'outside-tmp': f.corruptPath,
        escape: `${path.dirname(base.uri)}/../../../${path.relative(path.dirname(cubDir), f.corruptPath)}`,
        'link-out': path.join(allowed, 'link.jpg'),
        's3-other': 's3://other-bucket/key.jpg',
        redis: `http://127.0.0.1:${port}/x.jpg`,
        big: path.join(allowed, 'big.jpg'),
      };
      const jobs = [
        ...good.map((it) => jobFor(run.runId, it)),
        ...Object.entries(hostile).map(([imageId, uri]) => jobFor(run.runId, base, { imageId, uri })),
      ];
      await run.add(jobs);
      w = await startWorker(run.config, { store: f.store, log: silent });
      const results = await run.waitForResults(jobs.length);
      const failures = Object.fromEntries(
        results.filter((r) => r.status === 'failed').map((r) => [r.imageId, r.failure!.code]),
      );
      expect(failures).toEqual({
        passwd: 'forbidden',
        'outside-tmp': 'forbidden',
        escape: 'forbidden',
        'link-out': 'forbidden',
        's3-other': 'forbidden',
        redis: 'forbidden',
        big: 'too-large',
      });
      expect(
        results
          .filter((r) => r.status === 'ok')
          .map((r) => r.imageId)
          .sort(),
      ).toEqual(good.map((it) => it.id).sort());
      const message = results.find((r) => r.imageId === 'passwd')!.failure!.message;
      expect(message).toMatch(/\/etc\/passwd.*EMBEDCAM_ALLOWED_URIS/);
      expect(requests).toEqual([]); // the local HTTP server was never reached
      // Permanent: each hostile job ran once.
      for (const id of Object.keys(hostile)) {
        expect((await run.heatmaps.getJob(`${run.runId}/${id}`))!.attemptsStarted, id).toBe(1);
      }
    } finally {
      await w?.close();
      await run.cleanup();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps the event loop responsive under full compute load (and reports throughput)', async () => {
    const run = await createRun(f, { WORKER_CONCURRENCY: 32, BATCH_MAX_SIZE: 16, BATCH_MAX_WAIT_MS: 25 });
    let w: HeatmapWorker | undefined;
    try {
      const images = f.testItems;
      const copies = 3;
      const jobs = Array.from({ length: copies }, (_, k) =>
        images.map((it) => jobFor(run.runId, it, { imageId: `${it.id}-${k}` })),
      ).flat();
      // In-process baseline first (so it does not compete with the worker).
      const baseline = await inProcessBaseline(f, images);

      w = await startWorker(run.config, { store: f.store, log: silent, preloadModel: 'default' });
      await run.add(jobs);
      let stalled = 0;
      w.worker.on('stalled', () => stalled++);
      const started = performance.now();
      const results = await run.waitForResults(jobs.length, 240_000);
      const seconds = (performance.now() - started) / 1000;
      const s = w.stats();
      console.log(
        `[worker load] ${jobs.length} images in ${seconds.toFixed(1)} s = ${(jobs.length / seconds).toFixed(1)} img/s ` +
          `through the worker (${run.config.COMPUTE_THREADS} compute threads, load average ${os.loadavg()[0].toFixed(1)}); ` +
          `in-process (this thread, batches of 16): explainBatch alone ${baseline.compute.toFixed(1)} img/s, ` +
          `with decode + PNG + overlay ${baseline.pipeline.toFixed(1)} img/s; ` +
          `event-loop lag p99 ${s.eventLoopLagP99Ms} ms, max ${s.eventLoopLagMaxMs} ms; mean batch ${s.batcher.meanBatchSize.toFixed(1)}; ` +
          `stage means (ms) ${JSON.stringify(Object.fromEntries(Object.entries(s.stageMeanMs).map(([k, v]) => [k, Math.round(v)])))}`,
      );
      expect(results.filter((r) => r.status === 'ok')).toHaveLength(jobs.length);
      expect(stalled).toBe(0);
      expect(s.eventLoopLagP99Ms).toBeGreaterThan(0);
      expect(s.eventLoopLagP99Ms).toBeLessThan(200);
      expect(s.batcher.meanBatchSize).toBeGreaterThan(1); // batches really formed across jobs
    } finally {
      await w?.close();
      await run.cleanup();
    }
  });
});
