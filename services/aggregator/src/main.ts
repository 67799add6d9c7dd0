// The aggregator service: `tsx services/aggregator/src/main.ts` (or `npm start -w @embedcam/aggregator`).
// Settings: REDIS_URL, EMBEDCAM_PREFIX, STORAGE_URI, LOG_LEVEL (see @embedcam/config) and
// AGGREGATOR_CONCURRENCY / AGGREGATOR_SWEEP_MS / AGGREGATOR_LOCK_MS / AGGREGATOR_STALLED_MS.
import { loadConfig } from '@embedcam/config';
import { createLogger, runService } from '@embedcam/queues';
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

  runService(aggregator, { name: 'aggregator', log, afterClose: () => store.close() });
}

main().catch((err) => {
  process.stderr.write(`embedcam aggregator: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
