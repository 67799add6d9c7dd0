// The worker process: `tsx services/worker/src/main.ts` (the CLI's `embedcam worker` does the same
// through startWorker + runService). Configuration from the environment (see @embedcam/config);
// WORKER_SHUTDOWN_TIMEOUT_MS bounds how long SIGTERM waits for in-flight jobs before handing them
// back to the queue; a second signal hands them back at once.
import { ConfigError, loadConfig } from '@embedcam/config';
import { createLogger, runService } from '@embedcam/queues';
import { startWorker } from './heatmap-worker.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}
const log = createLogger('worker', config.LOG_LEVEL);
const worker = await startWorker(config, { log });
runService(worker, { name: 'worker', log });
log.info(
  {
    prefix: config.EMBEDCAM_PREFIX,
    store: config.STORAGE_URI,
    concurrency: config.WORKER_CONCURRENCY,
    computeThreads: config.COMPUTE_THREADS,
    batch: { maxSize: config.BATCH_MAX_SIZE, maxWaitMs: config.BATCH_MAX_WAIT_MS },
  },
  'heatmap worker started',
);
