// A heatmap worker process for the pipeline benchmark. It runs what `embedcam worker` runs —
// loadConfig() from the environment, then startWorker(config) — with the model loaded before the
// first job, and answers the benchmark over the IPC channel: `mark` starts a measurement window
// (event-loop delay histogram reset), `read` returns the worker's stats() and the window's lag,
// `stop` closes the worker gracefully and exits. The CLI worker only logs a stats line every 10 s,
// which a run of a few seconds never shows, hence this channel.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadConfig } from '@embedcam/config';
import { createLogger, runService } from '@embedcam/queues';
import { startWorker, type WorkerStats } from '@embedcam/worker';

export type ToChild = { type: 'mark' } | { type: 'read' } | { type: 'stop' };
export type FromChild =
  | { type: 'ready'; pid: number }
  | { type: 'startError'; message: string }
  | { type: 'marked' }
  | {
      type: 'read';
      stats: WorkerStats;
      lag: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
    };

/** Timer interval of the lag histogram; Node records the whole interval, which is subtracted. */
const RESOLUTION_MS = 10;

const send = (m: FromChild) => process.send?.(m);
if (!process.send) throw new Error('worker-child runs under the pipeline benchmark (IPC channel required).');

const config = loadConfig();
let worker: Awaited<ReturnType<typeof startWorker>>;
try {
  worker = await startWorker(config, { preloadModel: process.env.BENCH_PRELOAD_MODEL });
} catch (err) {
  send({ type: 'startError', message: (err as Error).stack ?? String(err) });
  process.exit(1);
}

const lag = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
lag.enable();
const beyond = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

process.on('message', (m: ToChild) => {
  if (m.type === 'mark') {
    lag.reset();
    send({ type: 'marked' });
  } else if (m.type === 'read') {
    send({
      type: 'read',
      stats: worker.stats(),
      lag: {
        p50Ms: beyond(lag.percentile(50)),
        p99Ms: beyond(lag.percentile(99)),
        maxMs: beyond(lag.max),
        samples: lag.count,
      },
    });
  } else if (m.type === 'stop') process.kill(process.pid, 'SIGTERM');
});
// A stop message, a signal or the benchmark going away: close as `embedcam worker` does.
runService(
  {
    close: async (o) => {
      lag.disable();
      await worker.close(o);
    },
  },
  { name: 'bench-worker', log: createLogger('bench-worker', 'warn') },
);
send({ type: 'ready', pid: process.pid });
