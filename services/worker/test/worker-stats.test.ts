import type { BatcherStats, ModelPoolStats } from '@embedcam/compute';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WorkerStatsRecorder } from '../src/worker-stats.js';
import { recordingLogger } from './helpers.js';

const batcher: BatcherStats = {
  batches: 3,
  items: 10,
  meanBatchSize: 10 / 3,
  maxBatchSize: 4,
  pending: 0,
  inFlight: 0,
};
const pool = (model: string, queued: number): ModelPoolStats => ({
  model,
  runtime: 'tfjs-cpu',
  threads: 2,
  ready: 2,
  busy: 0,
  queued,
  batches: 0,
  images: 0,
  crashes: 0,
  computeMs: 0,
});

describe('WorkerStatsRecorder', () => {
  let clock = 0;
  let stats: WorkerStatsRecorder;
  const live = { active: 2, batcher, compute: [pool('default', 1), pool('other', 2)] };
  beforeEach(() => {
    clock = 0;
    stats = new WorkerStatsRecorder(() => clock);
  });
  afterEach(() => stats.close());

  it('counts outcomes; a dropped job is failed but not completed', () => {
    stats.ok();
    stats.ok();
    stats.failed();
    stats.dropped();
    stats.retried();
    expect(stats.counts()).toEqual({ completed: 3, ok: 2, failed: 2, retried: 1 });
    expect(stats.snapshot(live).jobs).toEqual({ active: 2, completed: 3, ok: 2, failed: 2, retried: 1 });
  });

  it('throughput runs from the first job’s start to the last job’s end', () => {
    expect(stats.snapshot(live).imagesPerSecond).toBe(0);
    clock = 1000;
    stats.jobStarted();
    clock = 1500;
    stats.jobStarted(); // later starts do not move the beginning
    stats.ok();
    expect(stats.snapshot(live).imagesPerSecond).toBe(2); // 1 job in 0.5 s
    clock = 3000;
    stats.failed();
    clock = 9000; // idle time after the last job does not count
    expect(stats.snapshot(live).imagesPerSecond).toBe(1); // 2 jobs in 2 s
  });

  it('stage means are per ok image (zero before any)', () => {
    expect(stats.snapshot(live).stageMeanMs).toEqual({ read: 0, compute: 0, write: 0 });
    stats.addStageTimes({ read: 10, compute: 100, write: 4 });
    stats.ok();
    stats.addStageTimes({ read: 20, compute: 300, write: 8 });
    stats.ok();
    stats.failed();
    expect(stats.snapshot(live).stageMeanMs).toEqual({ read: 15, compute: 200, write: 6 });
  });

  it('passes the live figures through; lag figures are never negative', () => {
    const s = stats.snapshot(live);
    expect(s.batcher).toBe(batcher);
    expect(s.compute).toBe(live.compute);
    expect(s.eventLoopLagP99Ms).toBeGreaterThanOrEqual(0);
    expect(s.eventLoopLagMaxMs).toBeGreaterThanOrEqual(0);
  });

  it('the periodic line rounds rates to a tenth and sums the queued batches of all pools', () => {
    clock = 1000;
    stats.jobStarted();
    clock = 4000;
    stats.ok();
    expect(stats.line(stats.snapshot(live))).toEqual({
      completed: 1,
      ok: 1,
      failed: 0,
      active: 2,
      imagesPerSecond: 0.3,
      eventLoopLagP99Ms: expect.any(Number),
      meanBatchSize: 3.3,
      queuedBatches: 3,
    });
  });

  it('logs the line at info while jobs are active, at debug when idle', async () => {
    const { log, lines } = recordingLogger();
    let active = 1;
    stats.logEvery(20, log, () => stats.snapshot({ ...live, active }));
    await new Promise((r) => setTimeout(r, 70));
    active = 0;
    await new Promise((r) => setTimeout(r, 70));
    stats.close();
    const levels = lines.filter((l) => l.msg === 'worker stats').map((l) => l.level);
    expect(levels).toContain(30);
    expect(levels).toContain(20);
    expect(levels.indexOf(20)).toBeGreaterThan(levels.lastIndexOf(30));
  });
});
