// The service as a process: SIGKILL mid-run and a fresh aggregator finishes the run exactly;
// SIGTERM stops it cleanly; bad settings stop it with a message.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getRunProgress } from '@embedcam/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAggregator } from '../src/aggregator.js';
import {
  enqueue,
  expectClose,
  okJob,
  readCounters,
  readReport,
  referenceSummary,
  seedRun,
  syntheticResults,
  type TestEnv,
  testEnv,
  waitFor,
} from './helpers.js';

const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');

interface Child {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function spawnAggregator(t: TestEnv, env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      REDIS_URL: t.config.REDIS_URL,
      EMBEDCAM_PREFIX: t.prefix,
      STORAGE_URI: t.dir,
      LOG_LEVEL: 'info',
      AGGREGATOR_CONCURRENCY: '4',
      AGGREGATOR_LOCK_MS: '1000',
      AGGREGATOR_STALLED_MS: '300',
      AGGREGATOR_SWEEP_MS: '200',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, stderr: () => err, exited };
}

describe('aggregator process (main.ts)', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('SIGKILL mid-run, then a new aggregator: every image counted exactly once', async () => {
    const runId = 'killed';
    const results = syntheticResults(1000, 91, 8);
    await seedRun(t, runId, results);
    const child = spawnAggregator(t);
    await waitFor('the child to start', async () => child.stderr().includes('aggregator started'), 30_000);
    await enqueue(
      t.queue,
      results.map((r) => okJob(runId, r)),
      2,
    );
    await waitFor(
      'some results counted',
      async () => (await t.redis.scard(t.keys(runId).done)) >= 150,
      30_000,
      5,
    );
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    const atKill = await readCounters(t.redis, t.prefix, runId);
    // Killed mid-run, not after it.
    expect(atKill.done).toBeLessThan(1000);
    expect(atKill.done).toBe(atKill.rows);

    const agg = await startAggregator(t.config, {
      store: t.store,
      stalledIntervalMs: 300,
      sweepIntervalMs: 200,
    });
    try {
      await waitFor(
        'the run complete',
        async () => (await getRunProgress(t.redis, t.prefix, runId)).status === 'complete',
        60_000,
      );
      expect(agg.stats.counted).toBe(1000 - atKill.done);
      const c = await readCounters(t.redis, t.prefix, runId);
      expect(c.done).toBe(1000);
      expect(c.rows).toBe(1000);
      const report = await readReport(t.store, runId);
      expectClose({ ...report, run: {} }, referenceSummary(results), 1e-9);
    } finally {
      await agg.close();
    }
  });

  it('SIGTERM: finishes its jobs and exits 0', async () => {
    const runId = 'termed';
    const results = syntheticResults(50, 92);
    await seedRun(t, runId, results);
    const child = spawnAggregator(t);
    await waitFor('the child to start', async () => child.stderr().includes('aggregator started'), 30_000);
    await enqueue(
      t.queue,
      results.map((r) => okJob(runId, r)),
    );
    await waitFor(
      'the run complete',
      async () => (await getRunProgress(t.redis, t.prefix, runId)).status === 'complete',
    );
    child.proc.kill('SIGTERM');
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.stderr()).toContain('aggregator closed');
  });

  it('bad settings: exits 2 naming the variable', async () => {
    const child = spawnAggregator(t, { AGGREGATOR_CONCURRENCY: 'lots' });
    expect((await child.exited).code).toBe(2);
    expect(child.stderr()).toMatch(/AGGREGATOR_CONCURRENCY must be an integer \(got "lots"\)/);
    const child2 = spawnAggregator(t, { EMBEDCAM_PREFIX: 'bad prefix!' });
    expect((await child2.exited).code).toBe(2);
    expect(child2.stderr()).toMatch(/EMBEDCAM_PREFIX/);
  });
});
