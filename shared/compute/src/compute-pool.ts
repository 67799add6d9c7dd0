// N compute threads, each with its own model session, fed from one FIFO of batches: a batch goes to
// the first idle thread, one batch per thread at a time. A thread that dies rejects its batch with a
// transient ComputeThreadError and is replaced; the queue keeps flowing to the other threads.
import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import type { PreparedImage } from '@embedcam/images';
import { ComputeClosedError, ComputeThreadError } from './errors.js';
import type { ComputePoolOptions, PoolStats } from './pool-types.js';
import type {
  EmbedInput,
  EmbedOutcome,
  EmbedResult,
  ExplainInput,
  ExplainOutcome,
  ExplainRequest,
  FromThread,
  ModelInfo,
  ToThread,
} from './protocol.js';
import { fromWireError } from './protocol.js';
import { spawnThread, whenReady } from './thread-start.js';
import { ownInputs } from './transfer.js';

interface Task {
  batchId: number;
  proxyId?: string;
  msg: ToThread;
  transfer: ArrayBuffer[];
  images: number;
  resolve: (msg: FromThread) => void;
  reject: (err: Error) => void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  task: Task | null;
  startedAt: number;
  proxies: Set<string>;
  /** Set once the exit of this worker has been handled. */
  gone: boolean;
}

export class ComputePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private readonly proxySets = new Map<string, { data: Uint8Array; meta: string }>();
  private nextBatchId = 1;
  private closed = false;
  private counters = { batches: 0, images: 0, crashes: 0, computeMs: 0 };

  private constructor(
    private readonly opts: ComputePoolOptions,
    readonly info: ModelInfo,
  ) {}

  /** Starts the threads and waits until every one has loaded the model. */
  static async start(opts: ComputePoolOptions): Promise<ComputePool> {
    const n = Math.max(1, Math.floor(opts.threads ?? os.availableParallelism()));
    const workers = Array.from({ length: n }, () => spawnThread(opts));
    let infos: ModelInfo[];
    try {
      infos = await Promise.all(workers.map(whenReady));
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw err;
    }
    const pool = new ComputePool(opts, infos[0]);
    workers.forEach((w, i) => {
      pool.attach(i, w);
    });
    return pool;
  }

  get threads(): number {
    return this.slots.length;
  }

  /**
   * Registers a proxy set (the encoded artifact: proxies.bin bytes and proxies.json text). It is
   * sent to each thread before that thread's first batch that uses it (and again after a restart).
   */
  setProxies(proxyId: string, data: Uint8Array, meta: string): void {
    this.proxySets.set(proxyId, { data, meta });
    for (const s of this.slots) s.proxies.delete(proxyId);
  }

  hasProxies(proxyId: string): boolean {
    return this.proxySets.has(proxyId);
  }

  /**
   * EmbeddingCAM for a batch of images, one outcome per item (per-image failures such as a corrupt
   * file, a bad box or an unknown class are outcomes, not rejections). Pixels and bytes are
   * transferred to the thread when they own their ArrayBuffer: the caller must not use them after.
   * Rejects with ComputeThreadError when the thread dies, ComputeClosedError when the pool is closed.
   */
  async explain(req: ExplainRequest): Promise<ExplainOutcome[]> {
    if (!this.proxySets.has(req.proxyId)) {
      throw new Error(`Proxy set ${req.proxyId} is unknown to the compute pool; call setProxies first.`);
    }
    const { items, transfer } = ownInputs(req.items);
    const reply = await this.enqueue(
      (batchId) => ({ type: 'explain', batchId, ...req, items }),
      transfer,
      items.length,
      req.proxyId,
    );
    if (reply.type !== 'explained') throw new Error(`Unexpected reply ${reply.type} to an explain batch.`);
    return reply.outcomes;
  }

  /** Embeddings of prepared images (N×dim). Transfers the pixels like explain. */
  async embed(images: PreparedImage[]): Promise<EmbedResult> {
    return (await this.embedBatch(images.map((image) => ({ image })))).result;
  }

  /**
   * Embeddings of dataset images, one outcome per item, for the proxy-builder. Give each item's
   * file (bytes): the thread decodes and resizes it, so the caller's event loop only reads files and
   * a corrupt file is a failed outcome. Transfers like explain.
   */
  async embedItems(items: ExplainInput[]): Promise<EmbedOutcome[]> {
    const { result, failed } = await this.embedBatch(items);
    const failures = new Map(failed.map((f) => [f.index, f]));
    const { embeddings, dim } = result;
    let row = 0;
    return items.map((_, i): EmbedOutcome => {
      const f = failures.get(i);
      if (f) return { ok: false, code: f.code, message: f.message };
      row++;
      return { ok: true, embedding: embeddings.subarray((row - 1) * dim, row * dim) };
    });
  }

  private async embedBatch(inputs: EmbedInput[]) {
    const { items, transfer } = ownInputs(inputs);
    const reply = await this.enqueue(
      (batchId) => ({ type: 'embed', batchId, items }),
      transfer,
      items.length,
    );
    if (reply.type !== 'embedded') throw new Error(`Unexpected reply ${reply.type} to an embed batch.`);
    return reply;
  }

  stats(): PoolStats {
    return {
      threads: this.slots.length,
      ready: this.slots.filter((s) => s.ready).length,
      busy: this.slots.filter((s) => s.task).length,
      queued: this.queue.length,
      ...this.counters,
    };
  }

  /** Rejects queued and running batches (ComputeClosedError) and terminates the threads. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const err = new ComputeClosedError();
    for (const t of this.queue.splice(0)) t.reject(err);
    await Promise.all(
      this.slots.map(async (s) => {
        const t = s.task;
        s.task = null;
        s.gone = true;
        t?.reject(err);
        await s.worker.terminate();
      }),
    );
  }

  private enqueue(
    make: (batchId: number) => ToThread,
    transfer: ArrayBuffer[],
    images: number,
    proxyId?: string,
  ): Promise<FromThread> {
    if (this.closed) return Promise.reject(new ComputeClosedError());
    const batchId = this.nextBatchId++;
    return new Promise((resolve, reject) => {
      this.queue.push({ batchId, proxyId, msg: make(batchId), transfer, images, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.task || slot.gone) continue;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.startedAt = performance.now();
      slot.worker.ref();
      try {
        if (task.proxyId && !slot.proxies.has(task.proxyId)) {
          const p = this.proxySets.get(task.proxyId)!;
          // Copied (not transferred): every thread gets its own.
          const data = p.data.buffer.slice(p.data.byteOffset, p.data.byteOffset + p.data.byteLength);
          slot.worker.postMessage({
            type: 'setProxies',
            proxyId: task.proxyId,
            data: data as ArrayBuffer,
            meta: p.meta,
          } satisfies ToThread);
          slot.proxies.add(task.proxyId);
        }
        slot.worker.postMessage(task.msg, task.transfer);
      } catch (err) {
        slot.task = null;
        slot.worker.unref();
        task.reject(err as Error);
      }
    }
  }

  private attach(index: number, worker: Worker): void {
    const slot: Slot = {
      index,
      worker,
      ready: true,
      task: null,
      startedAt: 0,
      proxies: new Set(),
      gone: false,
    };
    this.slots[index] = slot;
    worker.on('message', (m: FromThread) => this.onMessage(slot, m));
    worker.on('error', (error) => this.opts.onEvent?.({ type: 'thread-error', thread: index, error }));
    worker.on('exit', (code) => this.onExit(slot, code));
    // Idle threads must not keep the process alive (a busy one is ref'd until its batch is back).
    worker.unref();
    this.dispatch();
  }

  private onMessage(slot: Slot, m: FromThread): void {
    const task = slot.task;
    if (!task || !('batchId' in m) || m.batchId !== task.batchId) return;
    slot.task = null;
    slot.worker.unref();
    this.counters.batches++;
    this.counters.images += task.images;
    this.counters.computeMs += performance.now() - slot.startedAt;
    if (m.type === 'batchError') task.reject(fromWireError(m.error, 'Compute thread'));
    else task.resolve(m);
    this.dispatch();
  }

  private onExit(slot: Slot, code: number): void {
    if (slot.gone) return;
    slot.gone = true;
    slot.ready = false;
    const task = slot.task;
    slot.task = null;
    this.counters.crashes++;
    this.opts.onEvent?.({ type: 'thread-exit', thread: slot.index, code, lostBatch: task !== null });
    task?.reject(
      new ComputeThreadError(
        `Compute thread ${slot.index} exited with code ${code} while computing a batch of ${task.images} image(s).`,
      ),
    );
    if (!this.closed) void this.restart(slot.index, this.opts.restartDelayMs ?? 1000, 0);
    this.dispatch();
  }

  private async restart(index: number, delayMs: number, attempt: number): Promise<void> {
    const worker = spawnThread(this.opts);
    try {
      await whenReady(worker);
    } catch (err) {
      await worker.terminate();
      if (this.closed) return;
      const retryInMs = Math.min(30_000, delayMs * 2 ** attempt);
      this.opts.onEvent?.({ type: 'restart-failed', thread: index, error: err as Error, retryInMs });
      // With no thread left, queued work would wait forever: fail it (transient) instead.
      if (this.slots.every((s) => s.gone)) {
        for (const t of this.queue.splice(0))
          t.reject(new ComputeThreadError(`No compute thread is running: ${(err as Error).message}`));
      }
      setTimeout(() => void this.restart(index, delayMs, attempt + 1), retryInMs).unref();
      return;
    }
    if (this.closed) {
      await worker.terminate();
      return;
    }
    this.attach(index, worker);
    this.opts.onEvent?.({ type: 'thread-restarted', thread: index });
  }
}
