// Closing a worker: stop taking jobs, let those in flight finish for a while, then hand the rest
// back to the queue; `force` (a second signal) skips the wait.
import type { Logger } from '@embedcam/queues';
import type { Worker } from 'bullmq';
import type { JobProcessor } from './job-processor.js';

/**
 * An idempotent close: the first call starts `run`, later calls share its promise. `force`, given
 * to the first call or a later one, resolves the `forced` promise that `run` races against.
 */
export class Shutdown {
  private closing: Promise<void> | null = null;
  private requestForce: () => void = () => {};
  private readonly forced = new Promise<void>((r) => {
    this.requestForce = r;
  });

  constructor(private readonly run: (forced: Promise<void>) => Promise<void>) {}

  close(opts: { force?: boolean } = {}): Promise<void> {
    if (opts.force) this.requestForce();
    this.closing ??= this.run(this.forced);
    return this.closing;
  }
}

export interface DrainOptions {
  /** How long in-flight jobs may take before they are handed back. */
  timeoutMs: number;
  /** Resolves when the wait is to be cut short. */
  forced: Promise<void>;
  log: Logger;
}

/**
 * Closes the BullMQ worker (no new jobs) and waits for the jobs in flight; after `timeoutMs`, or
 * once forced, hands them back to the queue. Resolves when the worker has closed.
 */
export async function drainWorker(
  worker: Pick<Worker, 'close'>,
  jobs: Pick<JobProcessor, 'activeCount' | 'handBack'>,
  opts: DrainOptions,
): Promise<void> {
  const { log } = opts;
  log.info({ active: jobs.activeCount }, 'closing: finishing in-flight jobs');
  const graceful = worker.close();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((r) => {
    timer = setTimeout(r, opts.timeoutMs);
  });
  const first = await Promise.race([
    graceful.then(() => 'done' as const),
    timeout.then(() => 'timeout' as const),
    opts.forced.then(() => 'force' as const),
  ]);
  clearTimeout(timer);
  if (first !== 'done') {
    log.warn({ active: jobs.activeCount, why: first }, 'handing in-flight jobs back to the queue');
    await jobs.handBack();
    await graceful;
  }
}
