// One ComputePool per model and engine (a worker normally serves one), started on first use and
// shared by every job that needs it.
import { ComputePool, type ComputePoolOptions, type PoolEvent, type PoolStats } from '@embedcam/compute';
import type { Config } from '@embedcam/config';
import type { Logger, RunConfig } from '@embedcam/queues';
import { LoadCache } from './caches.js';
import { JobFailure } from './failures.js';

export type ModelPoolStats = { model: string; runtime: string } & PoolStats;

export interface PoolRegistryOptions {
  config: Pick<Config, 'EMBEDCAM_ENGINE' | 'EMBEDCAM_TF_BACKEND' | 'COMPUTE_THREADS'>;
  log: Logger;
  /** Test hook passed to the compute threads (see ComputeInit.crashOnItemId). */
  crashOnItemId?: string;
  /** Starts a pool (default ComputePool.start; tests pass one that needs no model). */
  start?: (opts: ComputePoolOptions) => Promise<ComputePool>;
}

/** Errors of a model that cannot work however often it is loaded. */
const BAD_MODEL_ERRORS = ['ModelSpecError', 'UnsupportedModelError'];

export class PoolRegistry {
  private readonly pools: LoadCache<ComputePool>;
  /** Started pools and their model (as the run names it), for stats. */
  private readonly models = new Map<ComputePool, string>();

  constructor(private readonly opts: PoolRegistryOptions) {
    // A model that failed permanently is remembered for a minute, so that its jobs fail at once
    // instead of each starting (and losing) a set of threads.
    this.pools = new LoadCache((key) => this.start(key), 8, 60_000);
  }

  /** The key of a model on an engine; without an engine, the worker's own (EMBEDCAM_ENGINE). */
  key(model: string, engine?: RunConfig['engine']): string {
    return JSON.stringify([model, engine ?? this.opts.config.EMBEDCAM_ENGINE ?? null]);
  }

  /** The pool for a key, started on first use. Rejects with JobFailure bad-model or model-load. */
  get(key: string): Promise<ComputePool> {
    return this.pools.get(key);
  }

  stats(): ModelPoolStats[] {
    return [...this.models].map(([pool, model]) => ({ model, runtime: pool.info.runtime, ...pool.stats() }));
  }

  /** Closes every pool started (or starting); pools that failed to start need nothing. */
  async close(): Promise<void> {
    const started = await Promise.allSettled(this.pools.values());
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  }

  private async start(key: string): Promise<ComputePool> {
    const [model, engine] = JSON.parse(key) as [string, RunConfig['engine'] | null];
    const { config, log } = this.opts;
    const started = performance.now();
    try {
      const pool = await (this.opts.start ?? ComputePool.start)({
        model,
        engine: engine ?? undefined,
        tfBackend: config.EMBEDCAM_TF_BACKEND,
        threads: config.COMPUTE_THREADS,
        crashOnItemId: this.opts.crashOnItemId,
        onEvent: (e) => this.logEvent(model, e),
      });
      this.models.set(pool, model);
      log.info(
        {
          model: pool.info.name,
          runtime: pool.info.runtime,
          threads: pool.threads,
          fingerprint: pool.info.fingerprint,
          ms: Math.round(performance.now() - started),
        },
        `compute threads ready: ${pool.threads} × ${pool.info.runtime}`,
      );
      return pool;
    } catch (err) {
      const e = err as Error;
      const badModel = BAD_MODEL_ERRORS.includes(e.name);
      throw new JobFailure(badModel ? 'bad-model' : 'model-load', `Model ${model}: ${e.message}`, badModel, {
        cause: err,
      });
    }
  }

  private logEvent(model: string, e: PoolEvent): void {
    const { log } = this.opts;
    if (e.type === 'thread-exit')
      log.error({ model, thread: e.thread, code: e.code, lostBatch: e.lostBatch }, 'compute thread died');
    else if (e.type === 'thread-error')
      log.error({ model, thread: e.thread, err: e.error.message }, 'compute thread error');
    else if (e.type === 'restart-failed')
      log.error({ model, thread: e.thread, err: e.error.message, retryInMs: e.retryInMs }, 'restart failed');
    else log.info({ model, thread: e.thread }, 'compute thread restarted');
  }
}
