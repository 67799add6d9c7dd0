import type { Logger } from '@embedcam/queues';
import type { HeatmapWorker } from './heatmap-worker.js';

/**
 * SIGTERM/SIGINT → close() (in-flight jobs finish, up to the worker's shutdownTimeoutMs, then are
 * handed back) → exit 0; a second signal hands in-flight jobs back at once; a third exits at once.
 * Used by main.ts and meant for `embedcam worker`.
 */
export function exitOnSignals(worker: HeatmapWorker, log: Logger): void {
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      log.info({ signal }, 'shutting down: finishing in-flight jobs (signal again to hand them back now)');
      worker.close().then(
        () => process.exit(0),
        (err) => {
          log.error({ err: (err as Error).message }, 'error while closing');
          process.exit(1);
        },
      );
    } else if (signals === 2) {
      log.warn({ signal }, 'second signal: handing in-flight jobs back to the queue');
      void worker.close({ force: true });
      setTimeout(() => process.exit(1), 10_000).unref();
    } else {
      process.exit(1);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
