import type { Redis } from 'ioredis';
import { runKeys } from './names.js';

export type RunStatus = 'running' | 'complete';

export interface RunProgress {
  runId: string;
  total: number;
  /** Images with a counted result (ok + failed). */
  done: number;
  failed: number;
  status: RunStatus | 'unknown';
  reportKey?: string;
  createdAt?: string;
  completedAt?: string;
}

/** Records a run's size in Redis (idempotent: re-submitting keeps counters and creation time). */
export async function initRun(redis: Redis, prefix: string, runId: string, total: number): Promise<void> {
  const k = runKeys(prefix, runId);
  await redis
    .multi()
    .hsetnx(k.meta, 'createdAt', new Date().toISOString())
    .hsetnx(k.meta, 'status', 'running')
    .hset(k.meta, 'total', String(total))
    .exec();
}

export async function getRunProgress(redis: Redis, prefix: string, runId: string): Promise<RunProgress> {
  const k = runKeys(prefix, runId);
  const res = await redis.multi().hgetall(k.meta).scard(k.done).scard(k.failed).exec();
  const meta = (res?.[0]?.[1] ?? {}) as Record<string, string>;
  return {
    runId,
    total: Number(meta.total ?? 0),
    done: Number(res?.[1]?.[1] ?? 0),
    failed: Number(res?.[2]?.[1] ?? 0),
    status: (meta.status as RunStatus | undefined) ?? 'unknown',
    reportKey: meta.reportKey,
    createdAt: meta.createdAt,
    completedAt: meta.completedAt,
  };
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
