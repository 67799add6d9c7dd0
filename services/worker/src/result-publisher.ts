// Announces each image's outcome on QUEUES.results, where the aggregator counts it. The job id is
// deterministic (resultJobId), so a result published twice (a retry, several workers reporting
// the same stalled job) is one job.
import {
  type ConnectionWatch,
  type HeatmapJob,
  type Logger,
  QUEUES,
  type ResultJob,
  resultJobId,
  resultJobOptions,
  watchConnection,
} from '@embedcam/queues';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ResultPublisherOptions {
  /** Shared with the caller, who closes it. */
  connection: Redis;
  prefix: string;
  /** Attempts of the result job (JOB_ATTEMPTS). */
  attempts: number;
  log: Logger;
  /** The caller's outage log, which the results queue joins (default: its own, "results queue"). */
  watch?: ConnectionWatch;
}

export interface Failure {
  code: string;
  message: string;
}

export class ResultPublisher {
  private readonly queue: Queue;

  constructor(private readonly opts: ResultPublisherOptions) {
    this.queue = new Queue(QUEUES.results, { connection: opts.connection, prefix: opts.prefix });
    if (opts.watch) opts.watch.add(this.queue);
    else watchConnection(this.queue, opts.log, 'results queue');
  }

  async publish(r: ResultJob): Promise<void> {
    await this.queue.add('result', r, {
      jobId: resultJobId(r.runId, r.imageId),
      ...resultJobOptions(this.opts.attempts),
    });
  }

  /** The ok result of a heatmap job: where its result JSON is. */
  publishOk(p: HeatmapJob, key: string): Promise<void> {
    const { runId, imageId, uri, label } = p;
    return this.publish({ runId, imageId, status: 'ok', key, uri, label });
  }

  /**
   * A failed result for a heatmap job whose payload may be partial or malformed: its uri and label
   * are passed on only where they have the right type, so that the result job itself is valid.
   */
  publishFailed(runId: string, imageId: string, failure: Failure, p: Partial<HeatmapJob>): Promise<void> {
    return this.publish({
      runId,
      imageId,
      status: 'failed',
      failure,
      uri: typeof p.uri === 'string' ? p.uri : undefined,
      label: Number.isInteger(p.label) ? p.label : undefined,
    });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
