// A private deployment for the pipeline benchmark: key prefixes on the given Redis, one storage
// directory, and child processes (services through the real CLI, benchmark workers through
// worker-child.ts). cleanup() stops every child, deletes every key under the prefixes and the
// directory — also after a failure; killChildrenNow() is the synchronous last resort for 'exit'.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type ServiceChild, ServiceLauncher, serviceEnv } from '@embedcam/cli';
import { type Config, loadConfig } from '@embedcam/config';
import { createRedis, deleteKeysWithPrefix, QUEUES } from '@embedcam/queues';
import { Queue } from 'bullmq';
import { sleep, withTimeout } from './support.js';
import type { FromChild, ToChild } from './worker-child.js';

const WORKER_CHILD = path.join(import.meta.dirname, 'worker-child.mjs');

export type ServiceName = 'aggregator' | 'proxy-builder';

/** A child process of the deployment, on one key prefix. */
export type Child = ServiceChild & { prefix: string };

export class BenchWorker {
  private waiters: Array<{
    type: FromChild['type'];
    resolve: (m: FromChild) => void;
    reject: (err: Error) => void;
  }> = [];

  constructor(
    readonly child: Child,
    private readonly timeoutMs: number,
  ) {
    child.proc.on('message', (m: FromChild) => {
      if (m.type === 'startError') {
        for (const w of this.waiters.splice(0))
          w.reject(new Error(`${child.name} failed to start: ${m.message}`));
        return;
      }
      const i = this.waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) this.waiters.splice(i, 1)[0].resolve(m);
    });
    child.proc.once('exit', (code, signal) => {
      for (const w of this.waiters.splice(0))
        w.reject(new Error(`${child.name} exited (${code ?? signal}) while the benchmark waited for it`));
    });
  }

  private request<T extends FromChild['type']>(
    msg: ToChild | null,
    type: T,
    what: string,
  ): Promise<Extract<FromChild, { type: T }>> {
    if (this.child.exited) return Promise.reject(new Error(`${this.child.name} has exited`));
    const p = new Promise<FromChild>((resolve, reject) => {
      this.waiters.push({ type, resolve, reject });
    });
    if (msg) this.child.proc.send(msg);
    return withTimeout(p, this.timeoutMs, `${this.child.name}: ${what}`).catch((err: Error) => {
      throw new Error(`${err.message}\n${tail(this.child)}`);
    }) as Promise<Extract<FromChild, { type: T }>>;
  }

  ready() {
    return this.request(null, 'ready', 'start-up (model load)');
  }
  mark() {
    return this.request({ type: 'mark' }, 'marked', 'mark');
  }
  read() {
    return this.request({ type: 'read' }, 'read', 'read');
  }
}

function tail(c: Child): string {
  return c.logTail(4000);
}

export class Deployment {
  readonly children: Child[] = [];
  private readonly launcher = new ServiceLauncher({ env: {} });
  private readonly prefixes = new Set<string>();
  private cleaned = false;

  private constructor(
    readonly redisUrl: string,
    readonly dir: string,
    private readonly base: string,
  ) {}

  static async create(redisUrl: string): Promise<Deployment> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-bench-'));
    return new Deployment(redisUrl, dir, `bench${randomBytes(4).toString('hex')}`);
  }

  /** A fresh key/queue prefix (its keys are deleted by cleanup()). */
  prefix(name: string): string {
    const p = `${this.base}-${name}`;
    this.prefixes.add(p);
    return p;
  }

  config(prefix: string, extra: Partial<Record<keyof Config, unknown>> = {}): Config & { REDIS_URL: string } {
    return {
      ...loadConfig(
        {},
        { REDIS_URL: this.redisUrl, EMBEDCAM_PREFIX: prefix, STORAGE_URI: this.dir, ...extra },
      ),
      REDIS_URL: this.redisUrl,
    };
  }

  private env(prefix: string, extra: Record<string, string>): NodeJS.ProcessEnv {
    const base = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
    return { ...serviceEnv(this.config(prefix), base), ...extra };
  }

  private track(child: ServiceChild, prefix: string): Child {
    const c = Object.assign(child, { prefix });
    this.children.push(c);
    return c;
  }

  /** `embedcam aggregator|proxy-builder` on `prefix`; resolves once it consumes its queue. */
  async startService(name: ServiceName, prefix: string, timeoutMs: number): Promise<Child> {
    const child = this.track(
      this.launcher.start(name, { label: `${name}@${prefix}`, env: this.env(prefix, {}) }),
      prefix,
    );
    const connection = createRedis(this.redisUrl);
    connection.on('error', () => {});
    const queue = new Queue(name === 'aggregator' ? QUEUES.results : QUEUES.proxies, { connection, prefix });
    try {
      await withTimeout(
        (async () => {
          while ((await queue.getWorkersCount()) < 1) {
            this.check(child);
            await sleep(100);
          }
        })(),
        timeoutMs,
        `${child.name} start-up`,
      );
    } finally {
      await queue.close();
      connection.disconnect();
    }
    return child;
  }

  /** A heatmap worker process (see worker-child.ts) on `prefix`; resolves once its model is loaded. */
  async startWorker(
    prefix: string,
    o: { threads: number; model: string; engine: string; batchSize: number; timeoutMs: number },
  ): Promise<BenchWorker> {
    const n = this.children.filter((c) => c.name.startsWith('worker')).length;
    const env = this.env(prefix, {
      COMPUTE_THREADS: String(o.threads),
      EMBEDCAM_ENGINE: o.engine,
      BATCH_MAX_SIZE: String(o.batchSize),
      BENCH_PRELOAD_MODEL: o.model,
    });
    const child = this.track(
      this.launcher.startScript(`worker${n + 1}@${prefix}`, WORKER_CHILD, { env }),
      prefix,
    );
    const w = new BenchWorker(child, o.timeoutMs);
    const m = await w.ready();
    if (m.pid !== child.pid) throw new Error(`${child.name}: unexpected pid ${m.pid}`);
    return w;
  }

  /** Throws (with its log) if a child the benchmark did not stop has exited. */
  check(only?: Child): void {
    for (const c of only ? [only] : this.children) {
      if (c.exited && !c.stopping)
        throw new Error(`${c.name} exited unexpectedly (${c.exited.code ?? c.exited.signal})\n${tail(c)}`);
    }
  }

  /** SIGTERM (graceful close), then SIGKILL after `graceMs`. */
  stop(child: Child, graceMs = 15_000): Promise<void> {
    return child.stop(graceMs);
  }

  logs(): string {
    return this.children.map(tail).join('\n');
  }

  /** Stops every child, deletes the prefixes' keys and the storage directory. Idempotent. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await Promise.all(this.children.map((c) => this.stop(c)));
    await rm(this.dir, { recursive: true, force: true });
    const r = createRedis(this.redisUrl, { maxRetriesPerRequest: 1 });
    r.on('error', () => {});
    try {
      await withTimeout(
        (async () => {
          for (const prefix of this.prefixes) await deleteKeysWithPrefix(r, prefix);
        })(),
        30_000,
        `deleting the benchmark's Redis keys (${[...this.prefixes].join(', ')}:*)`,
      );
    } finally {
      r.disconnect();
    }
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every child still running. */
  killChildrenNow(): void {
    this.launcher.killAllNow();
  }
}
