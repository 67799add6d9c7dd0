// A job whose workers died more than maxStalledCount times is failed by BullMQ's stall check, which
// runs no code of ours: this listener reports it so that the run still completes. Every worker sees
// the event; the deterministic result job id makes the reports collapse into one.
import { type HeatmapJob, type Logger, QUEUES } from '@embedcam/queues';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ResultPublisher } from './result-publisher.js';

export interface StallReporterOptions {
  /** Shared with the caller, who closes it. */
  connection: Redis;
  prefix: string;
  results: Pick<ResultPublisher, 'publishFailed'>;
  log: Logger;
}

const STALLED = /stalled more than allowable limit/;
const QUIET_MS = 60_000;

export class StallReporter {
  private readonly events: QueueEvents;
  /** To read the data of a failed job (the event carries only its id). */
  private readonly heatmaps: Queue;
  /** An error was logged and Redis has not been ready since: an outage errs on every reconnect attempt. */
  private failing = false;
  private quietUntil = 0;

  constructor(private readonly opts: StallReporterOptions) {
    const { connection, prefix } = opts;
    // QueueEvents reads with blocking commands, so BullMQ gives it a duplicate of the connection,
    // which it owns and closes.
    this.events = new QueueEvents(QUEUES.heatmaps, { connection, prefix });
    this.heatmaps = new Queue(QUEUES.heatmaps, { connection, prefix });
    this.events.on('error', (err) => this.onError(err));
    this.heatmaps.on('error', (err) => this.onError(err));
    for (const q of [this.events, this.heatmaps]) q.getBackend().on('ready', () => this.onReady());
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

  /**
   * Logs the first error of an outage, then stays quiet until Redis is ready again; a minute at
   * most, so that a long outage, or an error that is no outage, still shows.
   */
  private onError(err: Error): void {
    const now = Date.now();
    if (this.failing && now < this.quietUntil) return;
    this.failing = true;
    this.quietUntil = now + QUIET_MS;
    this.opts.log.warn({ err: err.message }, 'stall reporter: Redis error (quiet now until it is back)');
  }

  private onReady(): void {
    if (this.failing) this.opts.log.info('stall reporter: Redis is back');
    this.failing = false;
  }
}
