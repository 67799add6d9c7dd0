// A JobProcessor under a real BullMQ Worker on real Redis (a fresh prefix); only the image work is
// stood in for, by an `explain` given per test, so no model is needed.
import type { DatasetItem } from '@embedcam/datasets';
import { type HeatmapJob, heatmapJobId, QUEUES, type ResultJob } from '@embedcam/queues';
import { type Job, Queue, Worker } from 'bullmq';
import { JobProcessor } from '../src/job-processor.js';
import { ResultPublisher } from '../src/result-publisher.js';
import { WorkerStatsRecorder } from '../src/worker-stats.js';
import { recordingLogger, redisScope, silent, until } from './helpers.js';

export type Explain = (p: HeatmapJob, item: DatasetItem, aborted: () => boolean) => Promise<string>;

/** A processor, its worker and queues on a fresh prefix; `results()` lists the published results. */
export function processorBench(explain: Explain) {
  const scope = redisScope();
  const { redis: connection, prefix } = scope;
  const publisher = new ResultPublisher({ connection, prefix, attempts: 1, log: silent });
  const stats = new WorkerStatsRecorder();
  const rec = recordingLogger();
  const processor = new JobProcessor({ images: { explain }, results: publisher, stats, log: rec.log });
  const heatmaps = new Queue(QUEUES.heatmaps, { connection, prefix });
  const resultsQueue = new Queue<ResultJob>(QUEUES.results, { connection, prefix });
  const worker = new Worker(QUEUES.heatmaps, processor.process, { connection, prefix, concurrency: 8 });
  worker.on('error', (err) => rec.log.error({ err: err.message }, 'worker error'));
  return {
    processor,
    stats,
    heatmaps,
    worker,
    log: rec.log,
    lines: rec.lines,
    async add(data: Partial<HeatmapJob>, attempts = 1) {
      const jobId = heatmapJobId(data.runId ?? 'r', String(data.imageId ?? 'x'));
      return heatmaps.add('heatmap', data, { jobId, attempts, backoff: { type: 'fixed', delay: 20 } });
    },
    async results(): Promise<ResultJob[]> {
      return (await resultsQueue.getJobs(['waiting'])).map((j) => j.data);
    },
    /** Waits until the job is completed or failed in BullMQ; returns it. */
    async settled(job: Job): Promise<Job> {
      await until(async () => ['completed', 'failed'].includes(await job.getState()));
      return (await heatmaps.getJob(job.id!))!;
    },
    async close() {
      await worker.close(true);
      stats.close();
      await Promise.all([publisher.close(), heatmaps.close(), resultsQueue.close()]);
      await scope.cleanup();
    },
  };
}

/** A valid heatmap job of run-1. */
export const job = (imageId: string, patch: Partial<HeatmapJob> = {}): HeatmapJob => ({
  runId: 'run-1',
  imageId,
  uri: `/images/${imageId}.jpg`,
  label: 2,
  ...patch,
});
