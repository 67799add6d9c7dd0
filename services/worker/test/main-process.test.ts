import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { createRun, describeWithFixture, type Fixture, jobFor, REDIS_URL, type TestRun } from './fixture.js';
import { until } from './helpers.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function startProcess(
  f: Fixture,
  run: TestRun,
): {
  child: ChildProcess;
  exit: Promise<number | null>;
  stderr: () => string;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: {
      ...process.env,
      REDIS_URL,
      EMBEDCAM_PREFIX: run.prefix,
      STORAGE_URI: f.store.root,
      COMPUTE_THREADS: '1',
      WORKER_CONCURRENCY: '8',
      BATCH_MAX_SIZE: '4',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => err };
}

describeWithFixture('worker process (src/main.ts)', (f) => {
  it('SIGTERM under load: finishes in-flight jobs, leaves the rest queued, exits 0', async () => {
    const run = await createRun(f);
    try {
      await run.add(f.testItems.slice(0, 30).map((it) => jobFor(run.runId, it)));
      const p = startProcess(f, run);
      await until(async () => (await run.results.getJobCounts('waiting')).waiting >= 3, 60_000);
      const activeAtSignal = (await run.heatmaps.getJobCounts('active')).active;
      p.child.kill('SIGTERM');
      const code = await p.exit;
      expect(code, p.stderr()).toBe(0);
      expect(activeAtSignal).toBeGreaterThan(0);
      const counts = await run.heatmaps.getJobCounts('completed', 'failed', 'active', 'waiting');
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.completed + counts.waiting).toBe(30);
      expect(counts.waiting).toBeGreaterThan(0);
      expect((await run.results.getJobCounts('waiting')).waiting).toBe(counts.completed);
      expect(p.stderr()).toMatch(/"msg":"worker closed"/);
    } finally {
      await run.cleanup();
    }
  });

  it('a second signal hands in-flight jobs back at once', async () => {
    const run = await createRun(f);
    try {
      await run.add(f.testItems.slice(0, 30).map((it) => jobFor(run.runId, it)));
      const p = startProcess(f, run);
      await until(async () => (await run.results.getJobCounts('waiting')).waiting >= 1, 60_000);
      p.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 20));
      p.child.kill('SIGTERM');
      const code = await p.exit;
      expect(code, p.stderr()).toBe(0);
      const counts = await run.heatmaps.getJobCounts('completed', 'failed', 'active', 'waiting');
      expect(counts).toMatchObject({ active: 0, failed: 0 });
      expect(counts.completed + counts.waiting).toBe(30);
      expect(p.stderr()).toMatch(/"why":"force".*handing in-flight jobs back to the queue/);
    } finally {
      await run.cleanup();
    }
  });

  it('a bad configuration stops start-up with a message naming the variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, COMPUTE_THREADS: 'many' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => {
      err += d;
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/COMPUTE_THREADS must be an integer/);
  });
});
