import { ComputePool, type PoolEvent } from '@embedcam/compute';
import type { Config } from '@embedcam/config';
import type { Logger, ProxyRequest } from '@embedcam/queues';

/**
 * The proxy-builder's compute pools, one per model ref and engine, started on first use. A failed
 * start is forgotten, so the job's retry tries again.
 */
export class ModelPools {
  private readonly pools = new Map<string, Promise<ComputePool>>();

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  get(req: Pick<ProxyRequest, 'model' | 'engine'>): Promise<ComputePool> {
    const engine = req.engine ?? this.config.EMBEDCAM_ENGINE;
    const key = JSON.stringify([req.model, engine ?? null]);
    let pool = this.pools.get(key);
    if (!pool) {
      pool = this.start(req.model, engine);
      this.pools.set(key, pool);
      pool.catch(() => {
        if (this.pools.get(key) === pool) this.pools.delete(key);
      });
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.then((pool) => pool.close()).catch(() => undefined)));
  }

  private async start(model: string, engine: Config['EMBEDCAM_ENGINE']): Promise<ComputePool> {
    const pool = await ComputePool.start({
      model,
      engine,
      tfBackend: this.config.EMBEDCAM_TF_BACKEND,
      threads: this.config.COMPUTE_THREADS,
      onEvent: (e) => this.onEvent(model, e),
    });
    this.log.info(
      { model: pool.info.name, runtime: pool.info.runtime, threads: pool.threads },
      'compute threads ready',
    );
    return pool;
  }

  private onEvent(model: string, e: PoolEvent): void {
    if (e.type === 'thread-restarted') this.log.info({ model, thread: e.thread }, 'compute thread restarted');
    else
      this.log.error({ model, ...e, error: 'error' in e ? e.error.message : undefined }, `compute ${e.type}`);
  }
}
