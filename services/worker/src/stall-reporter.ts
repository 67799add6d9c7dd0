// A job whose workers died more than maxStalledCount times is failed by BullMQ's stall check, which
// runs no code of ours: this listener reports it so that the run still completes. Every worker sees
// the event; the deterministic result job id makes the reports collapse into one.
import {
  type ConnectionWatch,
  type HeatmapJob,
  type Logger,
  QUEUES,
  watchConnection,
} from '@embedcam/queues';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ResultPublisher } from './result-publisher.js';

export interface StallReporterOptions {
  /** Shared with the caller, who closes it. */
  connection: Redis;
  prefix: string;
  results: Pick<ResultPublisher, 'publishFailed'>;
  log: Logger;
  /** The caller's outage log, which this reporter's connections join (default: its own, "stall reporter"). */
  watch?: ConnectionWatch;
}

const STALLED = /stalled more than allowable limit/;

export class StallReporter {
  private readonly events: QueueEvents;
  /** To read the data of a failed job (the event carries only its id). */
  private readonly heatmaps: Queue;

  constructor(private readonly opts: StallReporterOptions) {
    const { connection, prefix } = opts;
    // QueueEvents reads with blocking commands, so BullMQ gives it a duplicate of the connection,
    // which it owns and closes.
    this.events = new QueueEvents(QUEUES.heatmaps, { connection, prefix });
    this.heatmaps = new Queue(QUEUES.heatmaps, { connection, prefix });
    // An outage errs on every reconnect attempt: logged once, and once when Redis is back.
    if (opts.watch) opts.watch.add(this.events);
    const watch = opts.watch ?? watchConnection(this.events, opts.log, 'stall reporter');
    watch.add(this.heatmaps);
    this.events.on('failed', ({ jobId, failedReason }) => {
      if (!STALLED.test(failedReason)) return;
      this.report(jobId, failedReason).catch((err) =>
        opts.log.error({ err: (err as Error).message, jobId }, 'could not report a stalled job'),
      );
    });
  }

  waitUntilReady(): Promise<void> {
    return this.events.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.events.close();
    await this.heatmaps.close();
  }

  private async report(jobId: string, failedReason: string): Promise<void> {
    const job = await this.heatmaps.getJob(jobId);
    const p: Partial<HeatmapJob> = job?.data ?? {};
    if (typeof p.runId !== 'string' || typeof p.imageId !== 'string') return;
    const message = `The workers processing this image died repeatedly (${failedReason}).`;
    await this.opts.results.publishFailed(
      p.runId,
      p.imageId,
      { code: 'stalled', message, transient: true },
      p,
    );
  }
}
