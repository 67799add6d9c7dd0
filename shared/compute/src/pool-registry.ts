// One ComputePool per model and engine (a worker or proxy-builder normally serves one), started on
// first use and shared by every job that needs it.
import { ComputePool } from './compute-pool.js';
import { PoolStartError } from './errors.js';
import { LoadCache } from './load-cache.js';
import type { ComputePoolOptions, PoolEvent, PoolStats } from './pool-types.js';

type Engine = 'tfjs' | 'onnx';

/** The part of a pino logger the registry uses (services pass theirs). */
export interface PoolLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type ModelPoolStats = { model: string; runtime: string } & PoolStats;

export interface PoolRegistryOptions {
  /** The service's settings (@embedcam/config): its default engine, TF.js backend and threads per pool. */
  config: { EMBEDCAM_ENGINE?: Engine; EMBEDCAM_TF_BACKEND?: string; COMPUTE_THREADS: number };
  log: PoolLog;
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

  /** The key of a model on an engine; without an engine, the service's own (EMBEDCAM_ENGINE). */
  key(model: string, engine?: Engine): string {
    return JSON.stringify([model, engine ?? this.opts.config.EMBEDCAM_ENGINE ?? null]);
  }

  /** The pool for a key, started on first use. Rejects with PoolStartError bad-model or model-load. */
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
    const [model, engine] = JSON.parse(key) as [string, Engine | null];
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
      throw new PoolStartError(
        badModel ? 'bad-model' : 'model-load',
        `Model ${model}: ${e.message}`,
        badModel,
        {
          cause: err,
        },
      );
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
