// BullMQ's processor for heatmap jobs: validates the payload, explains the image, publishes the
// result, and decides between failing now (permanent) and leaving a retry to BullMQ (transient).
// It tracks the jobs in flight so that a shutdown can hand them back to the queue.
import { ComputeClosedError } from '@embedcam/compute';
import type { DatasetItem } from '@embedcam/datasets';
import {
  classifyFailure,
  type HeatmapJob,
  heatmapJobSchema,
  type Logger,
  parsePayload,
} from '@embedcam/queues';
import type { Job } from 'bullmq';
import type { ImageExplainer } from './explain-image.js';
import { HandedBack } from './failures.js';
import type { Failure, ResultPublisher } from './result-publisher.js';
import type { WorkerStatsRecorder } from './worker-stats.js';

/** A heatmap job's return value in BullMQ. */
export interface JobOutcome {
  status: 'ok' | 'failed';
  key?: string;
  code?: string;
}

export interface JobProcessorOptions {
  images: Pick<ImageExplainer, 'explain'>;
  results: Pick<ResultPublisher, 'publishOk' | 'publishFailed'>;
  stats: Pick<WorkerStatsRecorder, 'jobStarted' | 'ok' | 'failed' | 'dropped' | 'retried'>;
  log: Logger;
}

interface ActiveJob {
  job: Job;
  token?: string;
  /** Ends the job's processing with HandedBack at once (its image may still be computing). */
  abort: () => void;
  aborted: boolean;
}

export class JobProcessor {
  private readonly active = new Map<string, ActiveJob>();
  /** Set once jobs are being handed back: the compute pool closing under them is no failure then. */
  private handingBack = false;

  constructor(private readonly opts: JobProcessorOptions) {}

  /** Jobs in flight. */
  get activeCount(): number {
    return this.active.size;
  }

  /** The processor function for BullMQ's Worker. */
  readonly process = async (job: Job, token?: string): Promise<JobOutcome> => {
    this.opts.stats.jobStarted();
    const entry: ActiveJob = { job, token, abort: () => {}, aborted: false };
    const abortP = new Promise<never>((_, reject) => {
      entry.abort = () => {
        entry.aborted = true;
        reject(new HandedBack());
      };
    });
    abortP.catch(() => {});
    this.active.set(job.id!, entry);
    try {
      return await Promise.race([this.handle(job, () => entry.aborted), abortP]);
    } finally {
      this.active.delete(job.id!);
    }
  };

  /**
   * Moves every job in flight back to the waiting list (another worker takes it without waiting
   * for its lock to expire) and ends its processing with HandedBack.
   */
  async handBack(): Promise<void> {
    this.handingBack = true;
    const { log } = this.opts;
    await Promise.all(
      [...this.active.values()].map(async (a) => {
        try {
          await a.job.moveToWait(a.token);
          log.info({ jobId: a.job.id }, 'handed back to the queue');
        } catch (err) {
          log.warn(
            { jobId: a.job.id, err: (err as Error).message },
            'could not hand back (its lock will expire)',
          );
        }
        a.abort();
      }),
    );
  }

  private async handle(job: Job, aborted: () => boolean): Promise<JobOutcome> {
    const { images, results, stats, log } = this.opts;
    const d = (job.data ?? {}) as Partial<HeatmapJob>;
    let p: HeatmapJob;
    try {
      p = parsePayload(heatmapJobSchema, job.data, `heatmap job ${job.id}`);
    } catch (err) {
      const message = (err as Error).message;
      if (typeof d.runId === 'string' && typeof d.imageId === 'string') {
        await this.fail(
          d.runId,
          d.imageId,
          { code: 'bad-payload', message: message.slice(0, 2000), transient: false },
          d,
        );
      } else {
        stats.dropped();
        log.error({ jobId: job.id, err: message }, 'malformed heatmap job without runId/imageId: dropped');
      }
      return { status: 'failed', code: 'bad-payload' };
    }
    const item: DatasetItem = {
      id: p.imageId,
      uri: p.uri,
      label: p.label,
      className: p.className,
      bbox: p.bbox,
      split: p.split,
    };
    const jlog = log.child({ runId: p.runId, imageId: p.imageId, jobId: job.id });
    try {
      const key = await images.explain(p, item, aborted);
      if (aborted()) throw new HandedBack();
      await results.publishOk(p, key);
      stats.ok();
      return { status: 'ok', key };
    } catch (err) {
      if (err instanceof HandedBack || (this.handingBack && err instanceof ComputeClosedError)) throw err;
      const { code, message, permanent } = classifyFailure(err, item);
      if (permanent) {
        jlog.warn({ code, err: message }, 'image failed');
        await this.fail(p.runId, p.imageId, { code, message, transient: false }, p);
        return { status: 'failed', code };
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        // The last attempt: report it so the run still completes, then let BullMQ record the failure.
        jlog.error({ code, err: message, attempts }, 'image failed after its last attempt');
        await this.fail(p.runId, p.imageId, { code, message, transient: true }, p);
      } else {
        stats.retried();
        jlog.warn({ err: message, attempt: job.attemptsMade + 1, attempts }, 'transient failure: will retry');
      }
      throw err;
    }
  }

  private async fail(
    runId: string,
    imageId: string,
    failure: Failure,
    p: Partial<HeatmapJob>,
  ): Promise<void> {
    await this.opts.results.publishFailed(runId, imageId, failure, p);
    this.opts.stats.failed();
  }
}
