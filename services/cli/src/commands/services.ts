import type { Command } from 'commander';
import { logger } from '../logger.js';
import { parsePositiveInt } from './options.js';
import { addConnectionFlags, type ConnectionFlags, connect } from './pipeline-options.js';

interface Handle {
  close(): Promise<void>;
}

/** Runs a service in this process until SIGTERM/SIGINT, then closes it gracefully. */
async function serve(
  name: string,
  start: () => Promise<Handle>,
  stopRedis: () => Promise<void>,
): Promise<void> {
  const handle = await start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) process.exit(1);
      stopping = true;
      logger.info({ service: name, signal }, `${name}: finishing in-flight work, then exiting`);
      handle
        .close()
        .then(stopRedis)
        .then(resolve, (err) => {
          logger.error({ err }, `${name}: error while closing`);
          process.exit(1);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    // Started by another process with an IPC channel (embedcam run, tests): stop when it goes away,
    // even if it was killed without cleaning up.
    if (process.connected) process.once('disconnect', () => stop('parent exited'));
  });
  process.exit(0);
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
