// Announces each image's outcome on QUEUES.results, where the aggregator counts it. The job id is
// deterministic (resultJobId), so a result published twice (a retry, several workers reporting
// the same stalled job) is one job. A failure is also stored at the image's result key, so that the
// store knows it (re-submitting counts it as done; `--retry-failed` redoes it).
import {
  type ConnectionWatch,
  type HeatmapJob,
  type Logger,
  parseStoredFailure,
  QUEUES,
  type ResultJob,
  resultJobId,
  resultJobOptions,
  type StoredFailure,
  storageKeys,
  validateAttempt,
  validateRunId,
  watchConnection,
} from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export interface ResultPublisherOptions {
  /** Shared with the caller, who closes it. */
  connection: Redis;
  prefix: string;
  /** Attempts of the result job (JOB_ATTEMPTS). */
  attempts: number;
  log: Logger;
  /** Where failures are stored beside the results; without it they are only published. */
  store?: Pick<ObjectStore, 'put' | 'getOrNull'>;
  /** The caller's outage log, which the results queue joins (default: its own, "results queue"). */
  watch?: ConnectionWatch;
}

export interface Failure {
  code: string;
  message: string;
  /** The cause may pass (a retry may succeed); false or absent: retrying cannot help. */
  transient?: boolean;
}

/** The payload's attempt where it is a valid one (a malformed payload may carry anything). */
function attemptOf(p: Partial<HeatmapJob>): string | undefined {
  if (typeof p.attempt !== 'string') return undefined;
  try {
    return validateAttempt(p.attempt);
  } catch {
    return undefined;
  }
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
      jobId: resultJobId(r.runId, r.imageId, r.attempt),
      ...resultJobOptions(this.opts.attempts),
    });
  }

  /** The ok result of a heatmap job: where its result JSON is. */
  publishOk(p: HeatmapJob, key: string): Promise<void> {
    const { runId, attempt, imageId, uri, label } = p;
    return this.publish({
      runId,
      ...(attempt === undefined ? {} : { attempt }),
      imageId,
      status: 'ok',
      key,
      uri,
      label,
    });
  }

  /**
   * A failed result for a heatmap job whose payload may be partial or malformed: its uri and label
   * are passed on only where they have the right type, so that the result job itself is valid.
   */
  async publishFailed(
    runId: string,
    imageId: string,
    failure: Failure,
    p: Partial<HeatmapJob>,
  ): Promise<void> {
    const attempt = attemptOf(p);
    const uri = typeof p.uri === 'string' ? p.uri : undefined;
    const label = Number.isInteger(p.label) ? p.label : undefined;
    const { code, message, transient } = failure;
    // The store may be what failed: the failure is published (and counted) all the same, so the
    // run completes; only the stored record, which `--retry-failed` reads, is then missing.
    await this.storeFailure(
      runId,
      imageId,
      { code, message, transient: transient === true },
      { attempt, uri, label },
    ).catch((err) =>
      this.opts.log.warn(
        { runId, imageId, err: (err as Error).message },
        'could not store the failure record; publishing the failure anyway',
      ),
    );
    return this.publish({
      runId,
      ...(attempt === undefined ? {} : { attempt }),
      imageId,
      status: 'failed',
      failure: { code, message },
      uri,
      label,
      ...(transient === true ? { transient } : {}),
    });
  }

  /**
   * Writes the failure record at the image's result key — never over an ok result (another worker
   * may have explained the image after all) and never for a run id that is no valid key.
   */
  private async storeFailure(
    runId: string,
    imageId: string,
    f: { code: string; message: string; transient: boolean },
    p: { attempt?: string; uri?: string; label?: number },
  ): Promise<void> {
    const { store } = this.opts;
    if (!store || imageId === '') return;
    try {
      validateRunId(runId);
    } catch {
      return;
    }
    const key = storageKeys.result(runId, imageId);
    const had = await store.getOrNull(key);
    if (had && !parseStoredFailure(had)) return;
    const record: StoredFailure = {
      id: imageId,
      status: 'failed',
      ...(p.uri === undefined ? {} : { uri: p.uri }),
      ...(p.label === undefined ? {} : { label: p.label }),
      code: f.code,
      message: f.message,
      transient: f.transient,
      ...(p.attempt === undefined ? {} : { attempt: p.attempt }),
      failedAt: new Date().toISOString(),
    };
    await store.put(key, JSON.stringify(record), { contentType: 'application/json' });
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
