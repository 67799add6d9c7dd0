import path from 'node:path';
import type { Redis } from 'ioredis';
import { defineCommands, luaCommand } from './lua-commands.js';
import { runKeys } from './names.js';

/** The scripts of this package: `commands/<name>-<numberOfKeys>.lua`. */
const COMMANDS_DIR = path.join(import.meta.dirname, 'commands');

export type RunStatus = 'running' | 'complete';

export interface RunProgress {
  runId: string;
  total: number;
  /** Images with a counted result (ok + failed). */
  done: number;
  failed: number;
  /**
   * `stalled` is never stored: a client judges it (EmbedcamClient.status) when a running run has
   * nothing that will move it on; `stalledReason` says why.
   */
  status: RunStatus | 'stalled' | 'unknown';
  stalledReason?: string;
  reportKey?: string;
  createdAt?: string;
  completedAt?: string;
  /** When an image of the run was last counted, else when it was last submitted (epoch ms). */
  progressAt?: number;
}

/**
 * Records a run's size (and its attempt, for inspection) in Redis; idempotent: re-submitting keeps
 * counters and creation time.
 */
export async function initRun(
  redis: Redis,
  prefix: string,
  runId: string,
  total: number,
  attempt?: string,
): Promise<void> {
  const k = runKeys(prefix, runId);
  const m = redis
    .multi()
    .hsetnx(k.meta, 'createdAt', new Date().toISOString())
    .hsetnx(k.meta, 'status', 'running')
    .hset(k.meta, 'total', String(total))
    // A (re-)submission restarts the run's progress clock (stall detection counts from here).
    .hset(k.meta, 'submittedAt', String(Date.now()));
  if (attempt !== undefined) m.hset(k.meta, 'attempt', attempt);
  await m.exec();
}

/**
 * Forgets images counted as failed (commands/forgetFailed-4.lua), so that their retried results
 * are counted once more; ok images are never forgotten. Resolves with the number forgotten.
 */
export async function forgetFailedImages(
  redis: Redis,
  prefix: string,
  runId: string,
  imageIds: readonly string[],
): Promise<number> {
  if (imageIds.length === 0) return 0;
  defineCommands(redis, COMMANDS_DIR);
  const k = runKeys(prefix, runId);
  return luaCommand<number>(redis, 'forgetFailed')(k.done, k.failed, k.images, k.meta, ...imageIds);
}

/** The deployment's progress clock: when any run last had an image counted (epoch ms). */
export const progressKey = (prefix: string) => `${prefix}:progress-at`;

/**
 * Records that an image of the run was counted now (the aggregator, after a count that was not a
 * repeat): the run's `lastProgressAt` and the deployment's clock, so any client can judge whether
 * a run moves without having watched it.
 */
export async function markProgress(redis: Redis, prefix: string, runId: string, now = Date.now()) {
  await redis
    .multi()
    .hset(runKeys(prefix, runId).meta, 'lastProgressAt', String(now))
    .set(progressKey(prefix), String(now))
    .exec();
}

/** A run's meta hash as Redis holds it: strings, and any field may be missing. */
export interface RunMeta {
  total?: string;
  status?: string;
  /** SCARD done that the last report covered (the aggregator writes it with the report). */
  reportedDone?: string;
  reportKey?: string;
  createdAt?: string;
  completedAt?: string;
  /** The attempt of the last submission (see run.json). */
  attempt?: string;
  /** Epoch ms of the last submission (initRun). */
  submittedAt?: string;
  /** Epoch ms of the last counted image (markProgress). */
  lastProgressAt?: string;
}

/** One run's meta hash and counts, read together. */
export interface RunStatusSnapshot {
  runId: string;
  meta: RunMeta;
  done: number;
  failed: number;
}

/**
 * Reads the meta hash and the done/failed counts of each run in one MULTI, so each run's meta and
 * counts are one snapshot (a report check compares `reportedDone` with `done`). Used for one run
 * and for a sweep over many alike.
 */
export async function readRunStatuses(
  redis: Redis,
  prefix: string,
  runIds: readonly string[],
): Promise<RunStatusSnapshot[]> {
  if (runIds.length === 0) return [];
  const multi = redis.multi();
  for (const runId of runIds) {
    const k = runKeys(prefix, runId);
    multi.hgetall(k.meta).scard(k.done).scard(k.failed);
  }
  const res = (await multi.exec()) ?? [];
  const value = (i: number) => {
    const [err, v] = res[i] ?? [new Error('no reply (MULTI discarded)'), null];
    if (err) throw err;
    return v;
  };
  return runIds.map((runId, i) => ({
    runId,
    meta: value(3 * i) as RunMeta,
    done: Number(value(3 * i + 1)),
    failed: Number(value(3 * i + 2)),
  }));
}

export async function getRunProgress(redis: Redis, prefix: string, runId: string): Promise<RunProgress> {
  const [{ meta, done, failed }] = await readRunStatuses(redis, prefix, [runId]);
  return {
    runId,
    total: Number(meta.total ?? 0),
    done,
    failed,
    status: (meta.status as RunStatus | undefined) ?? 'unknown',
    reportKey: meta.reportKey,
    createdAt: meta.createdAt,
    completedAt: meta.completedAt,
    progressAt: runProgressAt(meta),
  };
}

/** The run's progress clock: the later of its last count and its last submission (undefined: neither known). */
export function runProgressAt(meta: RunMeta): number | undefined {
  const times = [meta.lastProgressAt, meta.submittedAt, meta.createdAt && String(Date.parse(meta.createdAt))]
    .map(Number)
    .filter((t) => Number.isFinite(t) && t > 0);
  return times.length ? Math.max(...times) : undefined;
}

/** Image ids that already have a counted result (re-submission skips them). */
export async function doneImageIds(redis: Redis, prefix: string, runId: string): Promise<Set<string>> {
  return new Set(await redis.smembers(runKeys(prefix, runId).done));
}

/** Deletes every Redis key under a deployment prefix (tests, benchmarks, evaluations; SCAN, never KEYS). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}
