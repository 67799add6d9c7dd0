import { runService, type Service } from '@embedcam/queues';
import type { Command } from 'commander';
import { logger } from '../logger.js';
import { parsePositiveInt } from './options.js';
import { addConnectionFlags, type ConnectionFlags, connect } from './pipeline-options.js';

/** Runs a service in this process until SIGTERM/SIGINT or the parent's exit (see runService). */
async function serve(name: string, start: () => Promise<Service>, stopRedis: () => Promise<void>) {
  runService(await start(), { name, log: logger, afterClose: stopRedis });
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
      const { config, redis } = await connect(flags, logger, {
        WORKER_CONCURRENCY: flags.concurrency,
        BATCH_MAX_SIZE: flags.batchSize,
        BATCH_MAX_WAIT_MS: flags.batchWait,
        COMPUTE_THREADS: flags.computeThreads,
      });
      const { startWorker } = await import('@embedcam/worker');
      await serve('worker', () => startWorker(config), redis.stop);
    },
  );
  addConnectionFlags(
    program.command('aggregator').description('Run the aggregator (exactly-once counting, reports)'),
  ).action(async (flags: ConnectionFlags) => {
    const { config, redis } = await connect(flags, logger);
    const { startAggregator } = await import('@embedcam/aggregator');
    await serve('aggregator', () => startAggregator(config), redis.stop);
  });
  addConnectionFlags(
    program.command('proxy-builder').description('Run the proxy-builder (sharded proxy builds)'),
  ).action(async (flags: ConnectionFlags) => {
    const { config, redis } = await connect(flags, logger);
    const { startProxyBuilder } = await import('@embedcam/proxy-builder');
    await serve('proxy-builder', () => startProxyBuilder(config), redis.stop);
  });
}
