import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { runJobIdPrefix, runKeys } from './names.js';

/** When a running run counts as stalled (the RUN_* settings of @embedcam/config). */
export interface StallSettings {
  /** No image counted for this long, in this run or any other of the deployment (0: off). */
  stallTimeoutMs: number;
  /** No worker (heatmaps) or aggregator (results) connected for this long. */
  noWorkerGraceMs: number;
  /** None of the run's jobs waiting, delayed or active, and no progress for this long. */
  idleGraceMs: number;
}

/** What {@link stallReason} judges from; times are epoch ms. */
export interface StallFacts {
  now: number;
  total: number;
  done: number;
  /** The run's progress clock (last count, else last submission); undefined: unknown, never stalled by time. */
  progressAt: number | undefined;
  /** The deployment's progress clock (any run's last count). */
  deploymentProgressAt: number | undefined;
  /** Workers connected now to the queues the run still needs. */
  workers: { heatmaps: number; results: number };
  /**
   * Since when a watcher has seen no worker on a queue (reset when it sees one); absent for a
   * one-off look, which then counts the absence from the run's progress clock.
   */
  noWorkerSince?: { heatmaps?: number; results?: number };
  /** The run's jobs waiting, delayed or active in both queues (see {@link runJobsInFlight}); read only when needed. */
  inFlight: () => Promise<number | undefined>;
}

/** `61 s`, `10 min`. */
export function formatDuration(ms: number): string {
  return ms < 120_000 ? `${Math.floor(ms / 1000)} s` : `${Math.floor(ms / 60_000)} min`;
}

const NEEDED = {
  heatmaps: { who: 'worker', start: 'embedcam worker' },
  results: { who: 'aggregator', start: 'embedcam aggregator' },
} as const;

/**
 * Why a run that is not complete will not move on by itself, or undefined while it may:
 * (a) no worker on the heatmaps queue (while images are uncounted) or no aggregator on the results
 * queue, for `noWorkerGraceMs`; (b) none of its jobs waiting, delayed or active while images are
 * uncounted, and nothing counted for `idleGraceMs`; (c) nothing counted for `stallTimeoutMs`, in
 * this run or in any other run of the deployment (a run queued behind a progressing one waits).
 */
export async function stallReason(f: StallFacts, s: StallSettings): Promise<string | undefined> {
  if (f.progressAt === undefined) return undefined;
  const idle = f.now - f.progressAt;
  const queues = f.done < f.total ? (['heatmaps', 'results'] as const) : (['results'] as const);
  for (const q of queues) {
    if (f.workers[q] > 0) continue;
    const since = Math.max(f.noWorkerSince?.[q] ?? Number.NEGATIVE_INFINITY, f.progressAt);
    const absent = f.now - since;
    if (absent >= s.noWorkerGraceMs)
      return `no ${NEEDED[q].who} has been connected to the ${q} queue for ${formatDuration(absent)}; start \`${NEEDED[q].start}\``;
  }
  if (f.done < f.total && idle >= s.idleGraceMs && (await f.inFlight()) === 0)
    return (
      `none of its jobs is waiting, delayed or active, but only ${f.done} of ${f.total} images are counted ` +
      `(nothing counted for ${formatDuration(idle)}); submit the run again to enqueue the rest`
    );
  if (s.stallTimeoutMs > 0) {
    const quiet = f.now - Math.max(f.progressAt, f.deploymentProgressAt ?? Number.NEGATIVE_INFINITY);
    if (quiet >= s.stallTimeoutMs)
      return (
        `no image has been counted for ${formatDuration(quiet)}, in this run or any other ` +
        `(${f.done} of ${f.total} counted${f.done >= f.total ? ', no report written' : ''})`
      );
  }
  return undefined;
}

/** Above this many jobs in flight in the queues, the per-run count is not attempted (undefined). */
export const MAX_IN_FLIGHT_SCAN = 200_000;

type QueueKeys = Pick<Queue, 'keys'>;
const LISTS = ['wait', 'paused', 'active'] as const;
const ZSETS = ['delayed', 'prioritized'] as const;

/**
 * How many of a run's jobs are waiting, delayed, prioritized or active in the given queues (heatmaps
 * and results), with the run's done count and stored status read in the same MULTI.
 *
 * Why this way: the queues' own counts mix runs, and a per-run counter kept beside BullMQ would
 * drift whenever a job is added twice (a no-op), removed or lost with a process. Instead the job ids
 * themselves say whose a job is (every job id of a run starts with `<runId>/`, names.ts), and BullMQ
 * keeps every unfinished job id in exactly one of these lists and sorted sets. Reading them all in
 * one MULTI is atomic, so a job moving between states (wait → active → completed, a heatmap job
 * handing over to its result job, which is added before the heatmap job completes) is seen
 * exactly once, and `done` is of the same instant: zero in flight with `done < total` means no job
 * will ever count the rest. Cost: one round trip of sizes (nothing in flight at all is answered
 * from them), then the ids in flight; callers read it only after the run has been idle for a grace
 * period, and not at all above {@link MAX_IN_FLIGHT_SCAN} ids.
 */
export async function runJobsInFlight(
  redis: Redis,
  queues: readonly QueueKeys[],
  prefix: string,
  runId: string,
  max = MAX_IN_FLIGHT_SCAN,
): Promise<{ inFlight: number | undefined; done: number; status: string | null }> {
  const k = runKeys(prefix, runId);
  const read = async (ranges: boolean) => {
    const m = redis.multi();
    for (const q of queues) {
      for (const l of LISTS) ranges ? m.lrange(q.keys[l], 0, -1) : m.llen(q.keys[l]);
      for (const z of ZSETS) ranges ? m.zrange(q.keys[z], 0, -1) : m.zcard(q.keys[z]);
    }
    m.scard(k.done).hget(k.meta, 'status');
    const res = (await m.exec()) ?? [];
    const values = res.map(([err, v]) => {
      if (err) throw err;
      return v;
    });
    return { jobs: values.slice(0, -2), done: Number(values.at(-2)), status: values.at(-1) as string | null };
  };
  const sizes = await read(false);
  const n = (sizes.jobs as number[]).reduce((a, b) => a + Number(b), 0);
  if (n === 0) return { inFlight: 0, done: sizes.done, status: sizes.status };
  if (n > max) return { inFlight: undefined, done: sizes.done, status: sizes.status };
  const ids = await read(true);
  const mine = runJobIdPrefix(runId);
  const inFlight = (ids.jobs as string[][]).reduce(
    (a, l) => a + l.filter((id) => id.startsWith(mine)).length,
    0,
  );
  return { inFlight, done: ids.done, status: ids.status };
}
