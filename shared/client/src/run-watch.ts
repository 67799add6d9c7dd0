// Whether a running run will move on: the client's side of stall detection (the rules are
// stallReason in @embedcam/queues).
import type { Config } from '@embedcam/config';
import {
  getRunProgress,
  progressKey,
  RedisUnreachableError,
  type RunProgress,
  runJobsInFlight,
  type StallSettings,
  stallReason,
  validateRunId,
  withTimeout,
} from '@embedcam/queues';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

/** `waitForRun` gave up: the run is stalled (see {@link EmbedcamClient.status}). */
export class RunStalledError extends Error {
  constructor(
    readonly runId: string,
    readonly reason: string,
  ) {
    super(`run ${runId} is stalled: ${reason}`);
    this.name = 'RunStalledError';
  }
}

/** What a watcher (waitForRun) has seen: since when a queue has had no worker. */
export interface StallWatch {
  noWorkerSince: { heatmaps?: number; results?: number };
}

export interface RunWatchDeps {
  redis: Redis;
  config: Pick<
    Config,
    | 'EMBEDCAM_PREFIX'
    | 'RUN_STALL_TIMEOUT_MS'
    | 'RUN_NO_WORKER_GRACE_MS'
    | 'RUN_IDLE_GRACE_MS'
    | 'REDIS_CONNECT_TIMEOUT_MS'
  > & { REDIS_URL: string };
  heatmaps: Queue;
  results: Queue;
}

/** The progress, reported `stalled` with its reason when nothing will move a running run on. */
export async function withStall(d: RunWatchDeps, p: RunProgress, watch?: StallWatch): Promise<RunProgress> {
  if (p.status !== 'running') return p;
  const reason = await stallReasonOf(d, p, watch);
  return reason ? { ...p, status: 'stalled', stalledReason: reason } : p;
}

async function stallReasonOf(
  d: RunWatchDeps,
  p: RunProgress,
  watch?: StallWatch,
): Promise<string | undefined> {
  const prefix = d.config.EMBEDCAM_PREFIX;
  const [heatmaps, results, deploymentAt] = await Promise.all([
    d.heatmaps.getWorkersCount(),
    d.results.getWorkersCount(),
    d.redis.get(progressKey(prefix)),
  ]);
  const now = Date.now();
  if (watch) {
    const seen = { heatmaps, results };
    for (const q of ['heatmaps', 'results'] as const) {
      if (seen[q] > 0) delete watch.noWorkerSince[q];
      else watch.noWorkerSince[q] ??= now;
    }
  }
  const settings: StallSettings = {
    stallTimeoutMs: d.config.RUN_STALL_TIMEOUT_MS,
    noWorkerGraceMs: d.config.RUN_NO_WORKER_GRACE_MS,
    idleGraceMs: d.config.RUN_IDLE_GRACE_MS,
  };
  return stallReason(
    {
      now,
      total: p.total,
      done: p.done,
      progressAt: p.progressAt,
      deploymentProgressAt: deploymentAt === null ? undefined : Number(deploymentAt),
      workers: { heatmaps, results },
      noWorkerSince: watch?.noWorkerSince,
      inFlight: async () => {
        const r = await runJobsInFlight(d.redis, [d.heatmaps, d.results], prefix, p.runId);
        // Counted or completed meanwhile: not idle after all.
        return r.done === p.done && r.status === 'running' ? r.inFlight : undefined;
      },
    },
    settings,
  );
}

/**
 * The run's progress, or RedisUnreachableError when Redis does not answer within
 * REDIS_CONNECT_TIMEOUT_MS (Redis went away during a wait: ioredis would queue the command until it
 * came back, and the wait would never end).
 */
export async function progressWithin(d: RunWatchDeps, runId: string): Promise<RunProgress> {
  const ms = d.config.REDIS_CONNECT_TIMEOUT_MS;
  return withTimeout(
    getRunProgress(d.redis, d.config.EMBEDCAM_PREFIX, validateRunId(runId)),
    ms,
    () => new RedisUnreachableError(d.config.REDIS_URL, ms, 'during the wait'),
  );
}
