import type { DatasetItem } from '@embedcam/datasets';
import type { HeatmapJob } from '@embedcam/queues';
import { afterEach, describe, expect, it } from 'vitest';
import { JobFailure } from '../src/failures.js';
import { job, processorBench } from './processor-bench.js';

describe('JobProcessor (real BullMQ worker and Redis, stand-in image work)', () => {
  let bench: ReturnType<typeof processorBench> | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('an explained image is published ok with its result key and counted', async () => {
    const seen: Array<[HeatmapJob, DatasetItem]> = [];
    bench = processorBench(async (p, item) => {
      seen.push([p, item]);
      return `runs/${p.runId}/results/${p.imageId}.json`;
    });
    const j = await bench.add(job('a', { bbox: [1, 2, 3, 4], className: 'Albatross', split: 'test' }));
    const done = await bench.settled(j);
    expect(done.returnvalue).toEqual({ status: 'ok', key: 'runs/run-1/results/a.json' });
    expect(await bench.results()).toEqual([
      {
        runId: 'run-1',
        imageId: 'a',
        status: 'ok',
        key: 'runs/run-1/results/a.json',
        uri: '/images/a.jpg',
        label: 2,
      },
    ]);
    expect(seen[0][1]).toEqual({
      id: 'a',
      uri: '/images/a.jpg',
      label: 2,
      className: 'Albatross',
      bbox: [1, 2, 3, 4],
      split: 'test',
    });
    expect(bench.stats.counts()).toEqual({ completed: 1, ok: 1, failed: 0, retried: 0 });
  });

  it('a permanent failure is reported at once, not retried, and the job completes', async () => {
    let calls = 0;
    bench = processorBench(async () => {
      calls++;
      throw new JobFailure('bad-box', 'Box outside the image.', true);
    });
    const done = await bench.settled(await bench.add(job('b'), 3));
    expect(done.returnvalue).toEqual({ status: 'failed', code: 'bad-box' });
    expect(done.attemptsStarted).toBe(1);
    expect(calls).toBe(1);
    expect(await bench.results()).toEqual([
      {
        runId: 'run-1',
        imageId: 'b',
        status: 'failed',
        failure: { code: 'bad-box', message: 'Box outside the image.' },
        uri: '/images/b.jpg',
        label: 2,
      },
    ]);
    expect(bench.stats.counts()).toEqual({ completed: 1, ok: 0, failed: 1, retried: 0 });
  });

  it('a transient failure is left to BullMQ to retry; a later success is the only result', async () => {
    let calls = 0;
    bench = processorBench(async (p) => {
      if (++calls < 3) throw new Error('connection reset');
      return `k/${p.imageId}`;
    });
    const done = await bench.settled(await bench.add(job('c'), 3));
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsStarted).toBe(3);
    expect((await bench.results()).map((r) => r.status)).toEqual(['ok']);
    expect(bench.stats.counts()).toEqual({ completed: 1, ok: 1, failed: 0, retried: 2 });
  });

  it('a transient failure on the last attempt is reported with its code, and BullMQ fails the job', async () => {
    bench = processorBench(async () => {
      throw new JobFailure('run-not-found', 'Run run-1 has no run.json.', false);
    });
    const done = await bench.settled(await bench.add(job('d'), 2));
    expect(await done.getState()).toBe('failed');
    expect(done.attemptsStarted).toBe(2);
    expect(await bench.results()).toEqual([
      expect.objectContaining({
        imageId: 'd',
        status: 'failed',
        failure: { code: 'run-not-found', message: 'Run run-1 has no run.json.' },
      }),
    ]);
    expect(bench.stats.counts()).toEqual({ completed: 1, ok: 0, failed: 1, retried: 1 });
    const last = bench.lines.find((l) => l.msg === 'image failed after its last attempt');
    expect(last).toMatchObject({ code: 'run-not-found', attempts: 2, runId: 'run-1', imageId: 'd' });
  });

  it('an error of no known kind is reported as `error` after the last attempt', async () => {
    bench = processorBench(async () => {
      throw new Error('S3 is down');
    });
    await bench.settled(await bench.add(job('e'), 1));
    expect((await bench.results())[0].failure).toEqual({ code: 'error', message: 'S3 is down' });
  });

  it('a malformed payload fails as bad-payload; without runId and imageId it is dropped unreported', async () => {
    bench = processorBench(async () => 'never');
    const bad = await bench.add({ ...job('f'), label: 'one' as unknown as number }, 3);
    const anonymous = await bench.heatmaps.add('heatmap', { uri: 7 }, { jobId: 'anonymous', attempts: 3 });
    expect((await bench.settled(bad)).returnvalue).toEqual({ status: 'failed', code: 'bad-payload' });
    expect((await bench.settled(anonymous)).returnvalue).toEqual({ status: 'failed', code: 'bad-payload' });
    const results = await bench.results();
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ imageId: 'f', status: 'failed', uri: '/images/f.jpg' });
    expect(results[0].label).toBeUndefined();
    expect(results[0].failure).toMatchObject({
      code: 'bad-payload',
      message: expect.stringMatching(/label/),
    });
    expect(bench.stats.counts()).toEqual({ completed: 1, ok: 0, failed: 2, retried: 0 });
  });
});
