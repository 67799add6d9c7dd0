// Adding a run's jobs, in chunks of addBulk: heatmap jobs for the images without a stored result,
// and result jobs for stored results that Redis does not count (so they are counted, not recomputed).
import type { DatasetItem } from '@embedcam/datasets';
import {
  heatmapJobFor,
  heatmapJobId,
  type ResultJob,
  resultJobId,
  resultJobOptions,
  submittedJobOptions,
} from '@embedcam/queues';
import type { Queue } from 'bullmq';
import { newAttempt } from './stored-results.js';

const CHUNK = 500;

/** Heatmap jobs of `attempt` (their ids include it, so an earlier attempt's jobs never swallow them). */
export async function enqueueHeatmaps(
  heatmaps: Queue,
  runId: string,
  items: readonly DatasetItem[],
  attempt: string | undefined,
  attempts: number,
): Promise<void> {
  const opts = submittedJobOptions(attempts);
  for (let i = 0; i < items.length; i += CHUNK) {
    await heatmaps.addBulk(
      items.slice(i, i + CHUNK).map((it) => ({
        name: 'heatmap',
        data: heatmapJobFor(runId, it, attempt),
        opts: { ...opts, jobId: heatmapJobId(runId, it.id, attempt) },
      })),
    );
  }
}

/**
 * Result jobs (ok, with the stored key) for stored results Redis does not count. Each submission
 * gives them a fresh suffix: an old completed result job with the same id may still be kept.
 */
export async function announceStored(
  results: Queue,
  runId: string,
  items: readonly DatasetItem[],
  stored: ReadonlyMap<string, string>,
  attempt: string | undefined,
  attempts: number,
): Promise<void> {
  const nonce = newAttempt();
  const opts = resultJobOptions(attempts);
  for (let i = 0; i < items.length; i += CHUNK) {
    await results.addBulk(
      items.slice(i, i + CHUNK).map((it) => {
        const data: ResultJob = {
          runId,
          ...(attempt === undefined ? {} : { attempt }),
          imageId: it.id,
          status: 'ok',
          key: stored.get(it.id)!,
          uri: it.uri,
          label: it.label,
        };
        return { name: 'result', data, opts: { ...opts, jobId: resultJobId(runId, it.id, attempt, nonce) } };
      }),
    );
  }
}
