// Dynamic batching, as inference servers do it: items submitted by many concurrent jobs are
// gathered per group (items that can share a batch) until the batch is full or its oldest item has
// waited maxWaitMs, then handed to the runner. With maxInFlight set (e.g. 2 × compute threads), a
// due batch that finds the runner saturated keeps growing until a slot frees up — the next batch is
// formed while the others compute, and it is as large as the wait allowed.
import { ComputeClosedError } from './errors.js';

export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: Error };

/** Runs one batch; returns one outcome per item, in order (or rejects: every item fails with it). */
export type BatchRunner<I, R> = (groupKey: string, items: I[]) => Promise<Array<BatchOutcome<R>>>;

export interface DynamicBatcherOptions<I, R> {
  /** Largest batch (≥ 1). */
  maxSize: number;
  /** Longest time the first item of a batch waits for company (≥ 0; 0 = whatever arrived in the same tick). */
  maxWaitMs: number;
  /** Batches running at once; due batches beyond that wait (and keep filling). Default: unlimited. */
  maxInFlight?: number;
  run: BatchRunner<I, R>;
  /** Called as each batch starts (for stats and logs). */
  onBatch?: (info: { groupKey: string; size: number; waitedMs: number }) => void;
}

interface Pending<I, R> {
  item: I;
  resolve: (value: R) => void;
  reject: (err: Error) => void;
}

interface Batch<I, R> {
  key: string;
  entries: Array<Pending<I, R>>;
  openedAt: number;
  timer: NodeJS.Timeout | null;
}

export interface BatcherStats {
  batches: number;
  items: number;
  meanBatchSize: number;
  maxBatchSize: number;
  /** Items waiting to be batched or in a due batch. */
  pending: number;
  inFlight: number;
}

export class DynamicBatcher<I, R> {
  private readonly open = new Map<string, Batch<I, R>>();
  /** Full or timed-out batches waiting for a free slot, oldest first. */
  private readonly due: Array<Batch<I, R>> = [];
  private running = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private counters = { batches: 0, items: 0, maxBatchSize: 0 };

  constructor(private readonly opts: DynamicBatcherOptions<I, R>) {
    if (!(Number.isInteger(opts.maxSize) && opts.maxSize >= 1))
      throw new RangeError(`DynamicBatcher: maxSize must be an integer ≥ 1, got ${opts.maxSize}`);
    if (!(opts.maxWaitMs >= 0))
      throw new RangeError(`DynamicBatcher: maxWaitMs must be ≥ 0, got ${opts.maxWaitMs}`);
    const m = opts.maxInFlight ?? Number.POSITIVE_INFINITY;
    if (!(m >= 1)) throw new RangeError(`DynamicBatcher: maxInFlight must be ≥ 1, got ${m}`);
  }

  /** Queues an item; resolves with its own result, rejects with its own (or its batch's) error. */
  submit(groupKey: string, item: I): Promise<R> {
    if (this.closed) return Promise.reject(new ComputeClosedError('The batcher is closed.'));
    return new Promise<R>((resolve, reject) => {
      const entry = { item, resolve, reject };
      let batch = this.open.get(groupKey);
      if (!batch) {
        // A due batch of this group that is still waiting for a slot keeps filling up to maxSize.
        const waiting = this.due.find((b) => b.key === groupKey && b.entries.length < this.opts.maxSize);
        if (waiting) {
          waiting.entries.push(entry);
          return;
        }
        batch = { key: groupKey, entries: [], openedAt: performance.now(), timer: null };
        this.open.set(groupKey, batch);
        const b = batch;
        b.timer = setTimeout(() => this.makeDue(b), this.opts.maxWaitMs);
      }
      batch.entries.push(entry);
      if (batch.entries.length >= this.opts.maxSize) this.makeDue(batch);
    });
  }

  /** Makes every open batch due now (they still respect maxInFlight). */
  flush(): void {
    for (const b of [...this.open.values()]) this.makeDue(b);
  }

  stats(): BatcherStats {
    const { batches, items, maxBatchSize } = this.counters;
    let pending = 0;
    for (const b of this.open.values()) pending += b.entries.length;
    for (const b of this.due) pending += b.entries.length;
    return {
      batches,
      items,
      meanBatchSize: batches ? items / batches : 0,
      maxBatchSize,
      pending,
      inFlight: this.running,
    };
  }

  /** Stops accepting items, runs what is queued, and resolves when every batch has finished. */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    if (this.running === 0 && this.due.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private makeDue(batch: Batch<I, R>): void {
    if (this.open.get(batch.key) !== batch) return; // already due
    this.open.delete(batch.key);
    if (batch.timer) clearTimeout(batch.timer);
    batch.timer = null;
    this.due.push(batch);
    this.pump();
  }

  private pump(): void {
    const max = this.opts.maxInFlight ?? Number.POSITIVE_INFINITY;
    while (this.due.length > 0 && this.running < max) {
      const batch = this.due.shift()!;
      void this.runBatch(batch);
    }
    if (this.running === 0 && this.due.length === 0 && this.idleWaiters.length > 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async runBatch(batch: Batch<I, R>): Promise<void> {
    this.running++;
    const { entries } = batch;
    this.counters.batches++;
    this.counters.items += entries.length;
    this.counters.maxBatchSize = Math.max(this.counters.maxBatchSize, entries.length);
    this.opts.onBatch?.({
      groupKey: batch.key,
      size: entries.length,
      waitedMs: performance.now() - batch.openedAt,
    });
    try {
      const outcomes = await this.opts.run(
        batch.key,
        entries.map((e) => e.item),
      );
      if (!Array.isArray(outcomes) || outcomes.length !== entries.length) {
        throw new Error(
          `Batch runner returned ${Array.isArray(outcomes) ? outcomes.length : typeof outcomes} outcomes for ${entries.length} items.`,
        );
      }
      entries.forEach((e, i) => {
        const o = outcomes[i];
        if (o.ok) e.resolve(o.value);
        else e.reject(o.error);
      });
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      for (const e of entries) e.reject(error);
    } finally {
      this.running--;
      this.pump();
    }
  }
}
