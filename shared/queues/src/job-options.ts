import type { JobsOptions } from 'bullmq';

/** How long finished jobs stay in Redis: enough to inspect, bounded so Redis does not grow with runs. */
export const JOB_RETENTION = {
  submitted: { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } },
  results: { removeOnComplete: { age: 24 * 3600, count: 10_000 }, removeOnFail: { age: 7 * 24 * 3600 } },
} as const;

/** Transient failures (network, storage) are retried with exponential backoff from 1 s. */
function retried(attempts: number): JobsOptions {
  return { attempts, backoff: { type: 'exponential', delay: 1000 } };
}

/** Options of the jobs the client adds: heatmap jobs and the proxy flow's shards and reduce. */
export function submittedJobOptions(attempts: number): JobsOptions {
  return { ...retried(attempts), ...JOB_RETENTION.submitted };
}

/** Options of a result job as a worker adds it (retention is the results worker's, see JOB_RETENTION). */
export function resultJobOptions(attempts: number): JobsOptions {
  return retried(attempts);
}
