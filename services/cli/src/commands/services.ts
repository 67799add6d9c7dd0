import { runService, type Service } from '@embedcam/queues';
import type { Command } from 'commander';
import { logger } from '../logger.js';
import { parsePositiveInt } from './options.js';
import {
  addConnectionFlags,
  type ConnectedConfig,
  type ConnectionFlags,
  connect,
} from './pipeline-options.js';

/**
 * Connects (flags and environment), starts a service in this process and keeps it running until
 * SIGTERM/SIGINT or the parent's exit (see runService); a private Redis stops after it.
 */
async function serve(
  name: string,
  flags: ConnectionFlags,
  start: (config: ConnectedConfig) => Promise<Service>,
  overrides: Parameters<typeof connect>[2] = {},
): Promise<void> {
  const { config, redis } = await connect(flags, logger, overrides);
  runService(await start(config), { name, log: logger, afterClose: redis.stop });
}

export function registerServices(program: Command): void {
  addConnectionFlags(
    program
      .command('worker')
      .description('Run a heatmap worker (compute threads fed by a dynamic batcher)')
      .option('--concurrency <n>', 'jobs in flight (env WORKER_CONCURRENCY)', (v) =>
        parsePositiveInt('--concurrency', v),
      )
      .option('--batch-size <n>', 'max images per batch (env BATCH_MAX_SIZE)', (v) =>
        parsePositiveInt('--batch-size', v),
      )
      .option('--batch-wait <ms>', 'max wait to fill a batch (env BATCH_MAX_WAIT_MS)', (v) => Number(v))
      .option('--compute-threads <n>', 'compute threads (env COMPUTE_THREADS; default: one per core)', (v) =>
        parsePositiveInt('--compute-threads', v),
      ),
  ).action(
    async (
      flags: ConnectionFlags & {
        concurrency?: number;
        batchSize?: number;
        batchWait?: number;
        computeThreads?: number;
      },
    ) => {
      const overrides = {
        WORKER_CONCURRENCY: flags.concurrency,
        BATCH_MAX_SIZE: flags.batchSize,
        BATCH_MAX_WAIT_MS: flags.batchWait,
        COMPUTE_THREADS: flags.computeThreads,
      };
      const { startWorker } = await import('@embedcam/worker');
      await serve('worker', flags, (config) => startWorker(config), overrides);
    },
  );
  addConnectionFlags(
    program.command('aggregator').description('Run the aggregator (exactly-once counting, reports)'),
  ).action(async (flags: ConnectionFlags) => {
    const { loadAggregatorOptions, startAggregator } = await import('@embedcam/aggregator');
    // AGGREGATOR_* settings apply here as in the aggregator's own main.
    const options = loadAggregatorOptions();
    await serve('aggregator', flags, (config) => startAggregator(config, options));
  });
  addConnectionFlags(
    program.command('proxy-builder').description('Run the proxy-builder (sharded proxy builds)'),
  ).action(async (flags: ConnectionFlags) => {
    const { startProxyBuilder } = await import('@embedcam/proxy-builder');
    await serve('proxy-builder', flags, (config) => startProxyBuilder(config));
  });
}
