// Images submitted by concurrent jobs are batched (DynamicBatcher) and each batch runs on its
// model's compute pool. A batch lost to a thread crash is retried image by image.
import {
  type BatcherStats,
  type BatchOutcome,
  type ComputePool,
  ComputeThreadError,
  DynamicBatcher,
  type ExplainInput,
  type ExplainOk,
} from '@embedcam/compute';
import type { Logger, RunConfig } from '@embedcam/queues';
import { JobFailure } from './failures.js';

/** One image and how to explain it; the items of a batch share all but `input` (one group key). */
export interface WorkItem {
  pool: Pick<ComputePool, 'explain'>;
  proxyId: string;
  target: RunConfig['target'];
  resolution: RunConfig['resolution'];
  overlays: boolean;
  input: ExplainInput;
}

export interface BatchRunnerOptions {
  maxSize: number;
  maxWaitMs: number;
  /** Compute threads per pool. */
  threads: number;
  log: Logger;
}

export class BatchRunner {
  private readonly batcher: DynamicBatcher<WorkItem, ExplainOk>;

  constructor(private readonly opts: BatchRunnerOptions) {
    this.batcher = new DynamicBatcher<WorkItem, ExplainOk>({
      maxSize: opts.maxSize,
      maxWaitMs: opts.maxWaitMs,
      // One batch computing and one ready per thread: the next batch forms while the others compute.
      maxInFlight: 2 * opts.threads,
      run: (_key, items) => this.run(items),
      onBatch: (b) => opts.log.debug({ size: b.size, waitedMs: Math.round(b.waitedMs) }, 'batch'),
    });
  }

  /** Resolves with the image's heatmap and files; rejects with its own failure (JobFailure) or its batch's. */
  submit(groupKey: string, item: WorkItem): Promise<ExplainOk> {
    return this.batcher.submit(groupKey, item);
  }

  stats(): BatcherStats {
    return this.batcher.stats();
  }

  /** Runs what is queued, then resolves; later submissions are refused (ComputeClosedError). */
  close(): Promise<void> {
    return this.batcher.close();
  }

  private async run(items: WorkItem[]): Promise<Array<BatchOutcome<ExplainOk>>> {
    try {
      return await runOnPool(items);
    } catch (err) {
      if (!(err instanceof ComputeThreadError) || items.length === 1) throw err;
      // A thread crash loses the whole batch. Run its images one by one so that an image that
      // crashes the runtime fails alone instead of taking its batch-mates down on every retry.
      this.opts.log.warn(
        { size: items.length, err: err.message },
        'batch lost to a thread crash: retrying its images singly',
      );
      return Promise.all(
        items.map((w) =>
          runOnPool([w]).then(
            (o) => o[0],
            (e: Error) => ({ ok: false as const, error: e }),
          ),
        ),
      );
    }
  }
}

/** One batch on its pool; the thread gets copies of the files (kept here for a crash retry). */
async function runOnPool(items: WorkItem[]): Promise<Array<BatchOutcome<ExplainOk>>> {
  const { pool, proxyId, target, resolution, overlays } = items[0];
  const outcomes = await pool.explain({
    proxyId,
    target,
    resolution,
    render: { heatmapPng: true, overlay: overlays },
    items: items.map((w) => ({ item: w.input.item, bytes: new Uint8Array(w.input.bytes!) })),
  });
  return outcomes.map((o) =>
    o.ok
      ? { ok: true as const, value: o }
      : { ok: false as const, error: new JobFailure(o.code, o.message, true) },
  );
}
