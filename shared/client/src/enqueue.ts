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
    const chunk = items.slice(i, i + CHUNK).map((it) => ({ it, jobId: heatmapJobId(runId, it.id, attempt) }));
    // An image without a stored result whose job BullMQ still keeps as failed or completed (a
    // failure that could not be stored, a result object deleted since) would be swallowed by that
    // id: remove it first. remove() leaves a job a worker holds (locked) alone; a waiting one is
    // added again at once.
    await Promise.all(chunk.map(({ jobId }) => heatmaps.remove(jobId)));
    await heatmaps.addBulk(
      chunk.map(({ it, jobId }) => ({
        name: 'heatmap',
        data: heatmapJobFor(runId, it, attempt),
        opts: { ...opts, jobId },
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
