import { randomUUID } from 'node:crypto';
import {
  type Logger,
  luaCommand,
  type RunMeta,
  readRunConfig,
  readRunStatuses,
  runKeys,
  storageKeys,
} from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import type { Redis } from 'ioredis';
import { defineAggregatorCommands } from './redis-commands.js';
import { buildReport, imagesCsv, readStableRunState } from './report.js';

/** A run needs a (new) report when every image is counted and no report covers all of them. */
export function needsReport(meta: RunMeta, done: number): boolean {
  if (meta.total === undefined) return false;
  const total = Number(meta.total);
  return (
    Number.isFinite(total) &&
    done >= total &&
    (meta.status !== 'complete' || Number(meta.reportedDone) !== done)
  );
}

export interface ReportWriterOptions {
  redis: Redis;
  prefix: string;
  store: ObjectStore;
  log: Logger;
  /** Expiry of the report lock, in case its holder dies. */
  lockMs: number;
  /** `reports` counts the reports this writer wrote. */
  stats: { reports: number };
}

export interface ReportWriter {
  /** Writes the run's report when it needs one and no other process is writing it; true when written. */
  writeIfNeeded(runId: string): Promise<boolean>;
  /**
   * {@link writeIfNeeded} for callers that must not fail (a result job, the sweep): errors are
   * logged, once per distinct message and run, and the next check tries again.
   */
  writeIfNeededSafely(runId: string): Promise<void>;
}

/**
 * Writes `runs/<runId>/images.csv` and `runs/<runId>/report.json`, then marks the run complete
 * with the count the report covers. One writer at a time per run, across processes: a Redis lock
 * (SET NX PX with a random token, freed by commands/releaseLock-1.lua only by its holder).
 */
export function createReportWriter(o: ReportWriterOptions): ReportWriter {
  const { redis, prefix, store, log } = o;
  defineAggregatorCommands(redis);
  const releaseLock = luaCommand<number>(redis, 'releaseLock');
  const lastError = new Map<string, string>();

  async function runNeedsReport(runId: string): Promise<boolean> {
    const [s] = await readRunStatuses(redis, prefix, [runId]);
    return needsReport(s.meta, s.done);
  }

  async function loadRun(runId: string): Promise<{ run: Record<string, unknown>; tau: number }> {
    const r = await readRunConfig(store, runId);
    if (r.ok) return { run: r.config as Record<string, unknown>, tau: r.config.tau };
    log.warn(
      { runId, key: r.key, err: r.message },
      'run.json is missing or invalid: the report uses τ = 0.2',
    );
    return { run: r.problem === 'missing' ? { runId } : { runId, configError: r.message }, tau: 0.2 };
  }

  async function write(runId: string): Promise<void> {
    const state = await readStableRunState(redis, prefix, runId);
    const { run, tau } = await loadRun(runId);
    const report = buildReport(state, { run, tau });
    const reportKey = storageKeys.report(runId);
    await store.put(storageKeys.imagesCsv(runId), imagesCsv(state.rows), { contentType: 'text/csv' });
    await store.put(reportKey, `${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
    await redis.hset(runKeys(prefix, runId).meta, {
      status: 'complete',
      reportKey,
      completedAt: new Date().toISOString(),
      reportedDone: String(state.done),
    });
    o.stats.reports++;
    log.info(
      { runId, reportKey, images: report.images, store: store.uri },
      `run ${runId} complete: report written`,
    );
  }

  async function writeIfNeeded(runId: string): Promise<boolean> {
    // Most checks (a run still counting) end here, without touching the lock.
    if (!(await runNeedsReport(runId))) return false;
    const lockKey = runKeys(prefix, runId).reportLock;
    const token = randomUUID();
    if ((await redis.set(lockKey, token, 'PX', o.lockMs, 'NX')) !== 'OK') return false;
    try {
      // Checked again under the lock: another writer may have written the report between the
      // check above and taking the lock (it frees the lock only after marking the run complete).
      if (!(await runNeedsReport(runId))) return false;
      await write(runId);
      lastError.delete(runId);
      return true;
    } finally {
      await releaseLock(lockKey, token).catch(() => {});
    }
  }

  return {
    writeIfNeeded,
    async writeIfNeededSafely(runId) {
      try {
        await writeIfNeeded(runId);
      } catch (err) {
        const msg = (err as Error).message;
        if (lastError.get(runId) !== msg) {
          lastError.set(runId, msg);
          log.error({ runId, err: msg }, 'cannot write the report yet; will retry');
        }
      }
    },
  };
}
