import { type Logger, readRunStatuses, runIdFromMetaKey, runMetaPattern } from '@embedcam/queues';
import type { Redis } from 'ioredis';
import { needsReport } from './report-writer.js';

export interface SweeperOptions {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Called for each run whose counts are complete and not covered by a report; must not throw. */
  report: (runId: string) => Promise<void>;
  /** Time between the end of one timed sweep and the start of the next; 0 disables the timer. */
  intervalMs: number;
  /** Every n-th sweep (the first included) also scans Redis for runs not yet known. */
  fullScanEvery: number;
}

export interface Sweeper {
  /** A run this process has seen: sweeps check it until it is reported. */
  track(runId: string): void;
  /**
   * Checks the known runs (after a SCAN for all runs when `full`, or on every n-th sweep) and
   * reports those that need it. Sweeps run one after another; errors are logged, never thrown.
   */
  sweep(opts?: { full?: boolean }): Promise<void>;
  /** Starts the timer (after the start-up sweep, so that one is awaited by the caller). */
  start(): void;
  /** Stops the timer; resolves when a sweep in progress has finished. */
  stop(): Promise<void>;
  /** The runs the next sweep checks (for tests and logs). */
  readonly known: ReadonlySet<string>;
}

/**
 * The safety net behind the reports written on results: a run whose last result was counted by
 * a process that died before writing the report, or whose report failed, is reported by a sweep.
 */
export function createSweeper(o: SweeperOptions): Sweeper {
  const { redis, prefix, log } = o;
  const known = new Set<string>();
  /** done per run at the last sweep, to log progress only when it moved. */
  const lastDone = new Map<string, number>();
  let sweeps = 0;
  let last: Promise<void> = Promise.resolve();
  let started = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  async function scanRuns(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', runMetaPattern(prefix), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const runId = runIdFromMetaKey(prefix, key);
        if (runId !== undefined) known.add(runId);
      }
    } while (cursor !== '0');
  }

  async function sweepOnce(full: boolean): Promise<void> {
    if (full) await scanRuns();
    if (known.size === 0) return;
    for (const { runId, meta, done, failed } of await readRunStatuses(redis, prefix, [...known])) {
      if (lastDone.get(runId) !== done && meta.status !== 'complete') {
        log.info(
          { runId, done, failed, total: Number(meta.total ?? Number.NaN) },
          `run ${runId}: ${done}/${meta.total ?? '?'} counted`,
        );
      }
      lastDone.set(runId, done);
      if (needsReport(meta, done)) await o.report(runId);
      else if (meta.status === 'complete' || meta.total === undefined) {
        // Reported (or not a run yet): forget it until one of its results arrives again.
        known.delete(runId);
        lastDone.delete(runId);
      }
    }
  }

  function sweep(opts: { full?: boolean } = {}): Promise<void> {
    const full = opts.full ?? sweeps % o.fullScanEvery === 0;
    sweeps++;
    // Chained, so two sweeps never interleave their reads and reports.
    last = last.then(() =>
      sweepOnce(full).catch((err) => log.error({ err: (err as Error).message }, 'sweep failed')),
    );
    return last;
  }

  function schedule(): void {
    if (stopped || o.intervalMs <= 0) return;
    timer = setTimeout(() => {
      void sweep().finally(schedule);
    }, o.intervalMs);
    // A pending sweep must not keep the process alive.
    timer.unref();
  }

  return {
    known,
    track: (runId) => {
      known.add(runId);
    },
    sweep,
    start() {
      if (started) return;
      started = true;
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await last;
    },
  };
}
