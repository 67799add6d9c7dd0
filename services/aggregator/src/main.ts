// The aggregator service: `tsx services/aggregator/src/main.ts` (or `npm start -w @embedcam/aggregator`).
// Settings: REDIS_URL, EMBEDCAM_PREFIX, STORAGE_URI, LOG_LEVEL (see @embedcam/config) and
// AGGREGATOR_CONCURRENCY / AGGREGATOR_SWEEP_MS / AGGREGATOR_LOCK_MS / AGGREGATOR_STALLED_MS.
import { loadConfig } from '@embedcam/config';
import { createLogger } from '@embedcam/queues';
import { openStore } from '@embedcam/storage';
import { startAggregator } from './aggregator.js';
import { loadAggregatorOptions } from './options.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  let options: ReturnType<typeof loadAggregatorOptions>;
  try {
    config = loadConfig();
    options = loadAggregatorOptions();
  } catch (err) {
    process.stderr.write(`embedcam aggregator: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger('aggregator', config.LOG_LEVEL);
  const store = openStore(config.STORAGE_URI);
  const aggregator = await startAggregator(config, { ...options, store, log });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping: finishing the running jobs');
    aggregator
      .close()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        (err) => {
          log.error({ err: (err as Error).message }, 'error while stopping');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`embedcam aggregator: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
