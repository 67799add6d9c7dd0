import { ComputeClosedError } from '@embedcam/compute';
import { afterEach, describe, expect, it } from 'vitest';
import { drainWorker, Shutdown } from '../src/graceful-shutdown.js';
import { until } from './helpers.js';
import { job, processorBench } from './processor-bench.js';

describe('Shutdown', () => {
  it('runs once however often it is called', async () => {
    let runs = 0;
    const s = new Shutdown(async () => void runs++);
    const a = s.close();
    const b = s.close();
    expect(b).toBe(a);
    await a;
    expect(runs).toBe(1);
  });

  it('force, on a later call, cuts the running close short', async () => {
    const order: string[] = [];
    const s = new Shutdown(async (forced) => {
      await forced;
      order.push('forced');
    });
    const graceful = s.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    await s.close({ force: true });
    await graceful;
    expect(order).toEqual(['forced']);
  });
});

describe('drainWorker (real BullMQ worker and Redis, stand-in image work)', () => {
  let bench: ReturnType<typeof processorBench> | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  /** Image work that finishes when the test says so (or never). */
  function slowImages() {
    let finish = () => {};
    const done = new Promise<void>((r) => {
      finish = r;
    });
    bench = processorBench(async (p) => {
      await done;
      return `k/${p.imageId}`;
    });
    return { bench, finish };
  }

  const never = new Promise<void>(() => {});

  it('lets in-flight jobs finish when they do so within the timeout', async () => {
    const { bench, finish } = slowImages();
    const j = await bench.add(job('a'));
    await until(() => bench.processor.activeCount === 1);
    setTimeout(finish, 100);
    await drainWorker(bench.worker, bench.processor, { timeoutMs: 10_000, forced: never, log: bench.log });
    expect(await j.getState()).toBe('completed');
    expect((await bench.results()).map((r) => r.status)).toEqual(['ok']);
    expect(bench.lines.some((l) => /handing in-flight jobs back/.test(l.msg))).toBe(false);
  });

  it('after the timeout, hands in-flight jobs back to the queue, unreported and unfailed', async () => {
    const { bench } = slowImages();
    const jobs = await Promise.all(['a', 'b'].map((id) => bench.add(job(id), 3)));
    await until(() => bench.processor.activeCount === 2);
    const t0 = performance.now();
    await drainWorker(bench.worker, bench.processor, { timeoutMs: 200, forced: never, log: bench.log });
    expect(performance.now() - t0).toBeLessThan(5000); // did not wait for the locks to expire
    for (const j of jobs) expect(await j.getState()).toBe('waiting');
    expect(await bench.results()).toEqual([]);
    expect(bench.processor.activeCount).toBe(0);
    expect(bench.stats.counts()).toEqual({ completed: 0, ok: 0, failed: 0, retried: 0 });
    expect(bench.lines.find((l) => /handing in-flight jobs back/.test(l.msg))).toMatchObject({
      why: 'timeout',
      active: 2,
    });
    expect(bench.lines.filter((l) => l.msg === 'handed back to the queue')).toHaveLength(2);
  });

  it('when forced, hands them back at once', async () => {
    const { bench } = slowImages();
    const j = await bench.add(job('a'));
    await until(() => bench.processor.activeCount === 1);
    const forced = new Promise<void>((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await drainWorker(bench.worker, bench.processor, { timeoutMs: 60_000, forced, log: bench.log });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await j.getState()).toBe('waiting');
    expect(bench.lines.find((l) => /handing in-flight jobs back/.test(l.msg))).toMatchObject({
      why: 'force',
    });
  });

  it('the compute pool closing under a handed-back job is no failure of its image', async () => {
    bench = processorBench(async (_p, _item, aborted) => {
      await until(aborted);
      throw new ComputeClosedError();
    });
    const j = await bench.add(job('a'), 1);
    await until(() => bench!.processor.activeCount === 1);
    await drainWorker(bench.worker, bench.processor, { timeoutMs: 0, forced: never, log: bench.log });
    await new Promise((r) => setTimeout(r, 200)); // the image work ends after the hand-back
    expect(await j.getState()).toBe('waiting');
    expect(await bench.results()).toEqual([]);
    expect(bench.stats.counts().failed).toBe(0);
  });
});
