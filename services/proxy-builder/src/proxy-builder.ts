import { PoolRegistry } from '@embedcam/compute';
import type { Config } from '@embedcam/config';
import {
  advertiseStore,
  classifyFailure,
  createLogger,
  createRedis,
  type Logger,
  QUEUES,
  type StoreAdvert,
  watchConnection,
} from '@embedcam/queues';
import { InputReader, type ObjectStore, openStore } from '@embedcam/storage';
import { UnrecoverableError, Worker } from 'bullmq';
import type { ProxyJobContext } from './job-context.js';
import { reduceProxies } from './reducer.js';
import { embedShard } from './shard-embedder.js';

export interface ProxyBuilderHandle {
  /**
   * Stops taking jobs, lets the running one finish, closes the compute pools and connections.
   * Idempotent; `force` stops waiting for the running job (its lock expires and it is retried).
   */
  close(opts?: { force?: boolean }): Promise<void>;
}

/**
 * The proxy-builder: shard jobs embed their reference images and write the members' embeddings
 * (a "partial"); the flow's parent reduces all partials into the proxy set. Images are embedded on
 * compute threads (one pool per model), so this event loop stays free and jobs keep the usual lock.
 */
export async function startProxyBuilder(
  config: Config & { REDIS_URL: string },
  opts: { store?: ObjectStore; log?: Logger } = {},
): Promise<ProxyBuilderHandle> {
  const log = opts.log ?? createLogger('proxy-builder', config.LOG_LEVEL);
  const store = opts.store ?? openStore(config.STORAGE_URI);
  const connection = createRedis(config.REDIS_URL);
  const watch = watchConnection(connection, log, 'proxy-builder');
  const ctx: ProxyJobContext = {
    store,
    log,
    pools: new PoolRegistry({ config, log }),
    inputs: new InputReader({
      store,
      allowed: config.EMBEDCAM_ALLOWED_URIS,
      maxBytes: config.EMBEDCAM_MAX_READ_BYTES,
    }),
  };

  // One store per deployment: refuse to start beside services that use another one.
  let advert: StoreAdvert;
  try {
    advert = await advertiseStore(connection, config.EMBEDCAM_PREFIX, store.uri, 'proxy-builder');
  } catch (err) {
    await ctx.pools.close();
    connection.disconnect();
    if (!opts.store) await store.close();
    throw err;
  }

  const worker = new Worker(
    QUEUES.proxies,
    async (job) => {
      try {
        if (job.name === 'embed-shard') return await embedShard(ctx, job);
        if (job.name === 'reduce') return await reduceProxies(ctx, job);
        throw new UnrecoverableError(`Unknown proxies job "${job.name}".`);
      } catch (err) {
        if (classifyFailure(err).permanent) throw new UnrecoverableError((err as Error).message);
        throw err;
      }
    },
    { connection, prefix: config.EMBEDCAM_PREFIX, concurrency: 1, lockDuration: config.JOB_LOCK_MS },
  );
  watch.add(worker);
  worker.on('failed', (job, err) => log.error({ jobId: job?.id, err: err.message }, 'proxies job failed'));
  await worker.waitUntilReady();
  log.info({ queue: QUEUES.proxies, prefix: config.EMBEDCAM_PREFIX }, 'proxy-builder ready');

  // One close however often it is asked for; `force` (a second signal) stops waiting for the
  // running job, whose lock then expires and another proxy-builder retries it.
  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    await advert.stop();
    await worker.close();
    await ctx.pools.close();
    connection.disconnect();
    if (!opts.store) await store.close();
  }
  return {
    close(o: { force?: boolean } = {}) {
      if (o.force) void worker.close(true).catch(() => {});
      closing ??= shutdown();
      return closing;
    },
  };
}
