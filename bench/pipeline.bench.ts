// The end-to-end pipeline against compute alone, on the same N real CUB test images:
//
// - compute-only: a ComputePool of T threads doing exactly a worker's compute work per image
//   (decode + resize, EmbeddingCAM, metrics, heatmap PNG; overlays off), 2×T batches in flight as
//   the worker's batcher keeps them;
// - the pipeline: a run submitted through EmbedcamClient and timed from submit to report written,
//   with worker processes (worker-child.ts: `embedcam worker`'s code plus a stats channel) and an
//   `embedcam aggregator` process, proxies built beforehand by an `embedcam proxy-builder`;
//   configurations 1 process × T threads, 1 × 1 and 2 × 1 (each on its own key prefix, all started
//   up front, so their repeats interleave: every configuration is measured side by side);
// - the queue's own cost: N jobs through BullMQ to a no-op processor that publishes the stored
//   result as the real worker does, counted by the real aggregator.
//
// Per worker process: event-loop lag p99 during each timed run, peak RSS (VmHWM), stage means.
// Per run: CPU seconds of each process (Linux /proc), to show where a saturated machine spends it.
import { EmbedcamClient } from '@embedcam/client';
import { ComputePool, type PoolStats } from '@embedcam/compute';
import { type DatasetItem, openDataset, selectItems } from '@embedcam/datasets';
import {
  createRedis,
  getRunProgress,
  type HeatmapJob,
  heatmapJobFor,
  heatmapJobId,
  heatmapJobSchema,
  initRun,
  parsePayload,
  QUEUES,
  type ResultJob,
  resultJobId,
  resultJobOptions,
  storageKeys,
  submittedJobOptions,
} from '@embedcam/queues';
import { readUri } from '@embedcam/storage';
import { CUB_DIR } from '@embedcam/test-support/shared-data';
import type { WorkerStats } from '@embedcam/worker';
import { Queue, Worker } from 'bullmq';
import { BreakdownBench, type ComputeBreakdown } from './breakdown.js';
import { type BenchWorker, type Child, Deployment } from './deployment.js';
import { type CpuSample, cpuDelta, cpuOf, peakRssMiB } from './proc.js';
import { mean, median, sleep, withTimeout } from './support.js';

export interface PipelineBenchOptions {
  engine: 'onnx' | 'tfjs';
  /** Images per run (the first N test images of CUB classes 1…k). */
  images: number;
  repeats: number;
  /** Compute threads of the 1-process configuration (and of compute-only). */
  threads: number;
  /** BATCH_MAX_SIZE of the workers, and the batch size of compute-only. */
  batchSize: number;
  redisUrl: string;
  /** Limit on every single wait (start-up, a run, a proxy build). */
  timeoutMs: number;
  log?: (line: string) => void;
}

export interface WorkerRunFigures {
  images: number;
  /** Event-loop delay beyond its 10 ms timer during the run. */
  lagP99Ms: number;
  lagMaxMs: number;
  stageMeanMs: { read: number; compute: number; write: number };
  meanBatchSize: number;
  /** Busy time of the compute threads / (threads × wall). */
  threadUtilisation: number;
  /** Compute-thread busy time per image (what a heatmap costs a thread here). */
  threadMsPerImage: number;
}

export interface CpuPerImage {
  /** CPU ms per image, per kind of process (null where /proc is not readable). */
  workers: number | null;
  workersMainThread: number | null;
  aggregator: number | null;
  redis: number | null;
  /** This process (submit, polling; for queue cost the no-op processor). */
  bench: number;
}

/** Milliseconds from submit: submitRun returned, first image counted, all counted, report written. */
export interface RunPhases {
  submitMs: number;
  firstCountedMs: number;
  countedMs: number;
  reportMs: number;
}

export interface PipelineRun {
  runId: string;
  seconds: number;
  imagesPerSec: number;
  phases: RunPhases;
  cpuMsPerImage: CpuPerImage;
  workers: WorkerRunFigures[];
}

export interface PipelineConfigResult {
  name: string;
  processes: number;
  threadsPerProcess: number;
  imagesPerSec: number;
  runs: PipelineRun[];
  perProcess: Array<{
    pid: number;
    peakRssMiB: number | null;
    lagP99Ms: number;
    lagMaxMs: number;
    /** The worker's own stats() at the end (cumulative, warm-up included). */
    stats: WorkerStats;
  }>;
}

export interface ComputeOnlyResult {
  threads: number;
  imagesPerSec: number;
  runs: number[];
  cpuMsPerImage: number;
  threadUtilisation: number;
  threadMsPerImage: number;
}

export interface QueueCostResult {
  images: number;
  /** Enqueue of N jobs → all counted → report written (seconds per repeat). */
  countedSeconds: number[];
  reportSeconds: number[];
  /** Median enqueue→counted time / N: the queue's overhead per image at full throughput. */
  msPerImage: number;
  imagesPerSec: number;
  /** One job alone: enqueue → counted, and → report written (ms, medians). */
  latencyCountedMs: number;
  latencyReportMs: number;
  cpuMsPerImage: CpuPerImage;
}

export interface PipelineBenchResult {
  engine: string;
  runtime: string;
  images: number;
  classes: string;
  repeats: number;
  threads: number;
  batchSize: number;
  computeOnly: ComputeOnlyResult[];
  /** One thread's compute per image, step by step (ms, medians over repeats). */
  breakdown: ComputeBreakdown;
  pipeline: PipelineConfigResult[];
  queue: QueueCostResult;
  ratios: {
    /** Pipeline 1×T over compute-only T (goal ≥ 0.8). */
    pipelineOverCompute: number;
    /** Pipeline 1×1 over compute-only 1. */
    pipelineOverCompute1: number | null;
    /** Pipeline 2×1 over 1×1 (goal ≥ 1.7). */
    twoOverOne: number | null;
    /** Compute-only T over 1: what the cores themselves give. */
    computeScaling: number | null;
  };
}

/** Deployments alive in this process, for the runner's signal handlers. */
export const activeDeployments = new Set<Deployment>();

interface Selection {
  dataset: string;
  split: 'test';
  classes: string;
  limit: number;
}

/** The first `n` test images of classes 1…k, k as small as gives n. */
async function selectImages(n: number): Promise<{ selection: Selection; items: DatasetItem[] }> {
  const ds = await openDataset(CUB_DIR);
  const labels = [...new Set(ds.items.map((i) => i.label))].sort((a, b) => a - b);
  for (let k = 1; k <= labels.length; k++) {
    const classes = `${labels[0]}-${labels[k - 1]}`;
    const items = selectItems(ds, { split: 'test', classes, limit: n });
    if (items.length === n)
      return { selection: { dataset: CUB_DIR, split: 'test', classes, limit: n }, items };
  }
  throw new Error(`The CUB subset in ${CUB_DIR} has fewer than ${n} test images; use fewer images.`);
}

async function redisPid(url: string): Promise<number | null> {
  if (!/^redis:\/\/(127\.0\.0\.1|localhost)[:/]/.test(url)) return null;
  const r = createRedis(url);
  try {
    const m = /process_id:(\d+)/.exec(await r.info('server'));
    return m && cpuOf(Number(m[1])) ? Number(m[1]) : null;
  } finally {
    r.disconnect();
  }
}

/** CPU of a set of pids plus this process, before and after something. */
class CpuMeter {
  private before = new Map<number, CpuSample | null>();
  private self = process.cpuUsage();

  constructor(private readonly pids: number[]) {
    for (const p of pids) this.before.set(p, cpuOf(p));
  }

  /** CPU ms per image of each pid group. */
  end(images: number, groups: { workers: number[]; aggregator: number[]; redis: number[] }): CpuPerImage {
    const d = new Map(this.pids.map((p) => [p, cpuDelta(this.before.get(p) ?? null, cpuOf(p))]));
    const sum = (pids: number[], f: (c: CpuSample) => number) => {
      if (pids.length === 0) return null;
      let s = 0;
      for (const p of pids) {
        const c = d.get(p);
        if (!c) return null;
        s += f(c);
      }
      return (s * 1000) / images;
    };
    const self = process.cpuUsage(this.self);
    return {
      workers: sum(groups.workers, (c) => c.total),
      workersMainThread: sum(groups.workers, (c) => c.main),
      aggregator: sum(groups.aggregator, (c) => c.total),
      redis: sum(groups.redis, (c) => c.total),
      bench: (self.user + self.system) / 1000 / images,
    };
  }
}

function withoutNulls(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === xs.length && v.length ? median(v) : null;
}

function medianCpu(runs: CpuPerImage[]): CpuPerImage {
  return {
    workers: withoutNulls(runs.map((r) => r.workers)),
    workersMainThread: withoutNulls(runs.map((r) => r.workersMainThread)),
    aggregator: withoutNulls(runs.map((r) => r.aggregator)),
    redis: withoutNulls(runs.map((r) => r.redis)),
    bench: median(runs.map((r) => r.bench)),
  };
}

/** Figures of one worker process over one run, from its stats before and after. */
function workerRun(
  a: WorkerStats,
  b: WorkerStats,
  lag: { p99Ms: number; maxMs: number },
  wallMs: number,
): WorkerRunFigures {
  const ok = b.jobs.ok - a.jobs.ok;
  const sum = (s: WorkerStats, k: 'read' | 'compute' | 'write') => s.stageMeanMs[k] * Math.max(1, s.jobs.ok);
  const stage = (k: 'read' | 'compute' | 'write') => (ok > 0 ? (sum(b, k) - sum(a, k)) / ok : 0);
  const batches = b.batcher.batches - a.batcher.batches;
  const busy = (s: WorkerStats) => s.compute.reduce((t, c) => t + c.computeMs, 0);
  const computed = (s: WorkerStats) => s.compute.reduce((t, c) => t + c.images, 0);
  const threads = b.compute.reduce((t, c) => t + c.threads, 0);
  const images = computed(b) - computed(a);
  return {
    images: b.jobs.completed - a.jobs.completed,
    lagP99Ms: lag.p99Ms,
    lagMaxMs: lag.maxMs,
    stageMeanMs: { read: stage('read'), compute: stage('compute'), write: stage('write') },
    meanBatchSize: batches > 0 ? (b.batcher.items - a.batcher.items) / batches : 0,
    threadUtilisation: threads > 0 ? (busy(b) - busy(a)) / (threads * wallMs) : 0,
    threadMsPerImage: images > 0 ? (busy(b) - busy(a)) / images : 0,
  };
}

export async function benchPipeline(o: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const log = o.log ?? (() => {});
  const dep = await Deployment.create(o.redisUrl);
  activeDeployments.add(dep);
  const pools: ComputePool[] = [];
  const closers: Array<() => Promise<unknown>> = [];
  try {
    return await run(o, dep, log, pools, closers);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => {});
    await Promise.all(pools.map((p) => p.close()));
    await dep.cleanup();
    activeDeployments.delete(dep);
  }
}

async function run(
  o: PipelineBenchOptions,
  dep: Deployment,
  log: (line: string) => void,
  pools: ComputePool[],
  closers: Array<() => Promise<unknown>>,
): Promise<PipelineBenchResult> {
  const model = o.engine === 'onnx' ? 'default-onnx' : 'default';
  const T = o.threads;
  const N = o.images;
  const { selection, items } = await selectImages(N);
  const files = await Promise.all(items.map(async (item) => ({ item, bytes: await readUri(item.uri) })));
  const rPid = await redisPid(o.redisUrl);

  // ---- configurations, each on its own prefix with its own aggregator ---------------------------
  const shapes = [
    { processes: 1, threads: T },
    { processes: 1, threads: 1 },
    { processes: 2, threads: 1 },
  ].filter((s, i, all) => all.findIndex((x) => x.processes === s.processes && x.threads === s.threads) === i);
  const configs = shapes.map((s) => ({
    ...s,
    name: `${s.processes} process${s.processes > 1 ? 'es' : ''} × ${s.threads} thread${s.threads > 1 ? 's' : ''}`,
    prefix: dep.prefix(`p${s.processes}t${s.threads}`),
    workers: [] as BenchWorker[],
    aggregator: null as Child | null,
    client: null as EmbedcamClient | null,
    runs: [] as PipelineRun[],
    lastStats: [] as WorkerStats[],
  }));
  const queuePrefix = dep.prefix('queue');

  // ---- proxies, built by the proxy-builder before anything is timed ----------------------------
  const first = configs[0];
  first.client = new EmbedcamClient(dep.config(first.prefix));
  closers.push(() => first.client!.close());
  log(`[pipeline ${o.engine}] ${N} images (classes ${selection.classes}); building proxies…`);
  const builder = await dep.startService('proxy-builder', first.prefix, o.timeoutMs);
  const proxyId = await withTimeout(
    first.client.buildProxies({
      dataset: CUB_DIR,
      split: 'train',
      classes: selection.classes,
      model,
      engine: o.engine,
      scheme: 'mean',
      timeoutMs: o.timeoutMs,
    }),
    o.timeoutMs,
    'proxy build',
  );
  await dep.stop(builder);
  const store = first.client.store;
  const [pData, pMeta] = await Promise.all([
    store.get(storageKeys.proxiesData(proxyId)),
    store.get(storageKeys.proxiesMeta(proxyId)).then((b) => b.toString('utf8')),
  ]);

  // ---- processes and pools (all up front; idle ones wait on Redis and cost no CPU) --------------
  log(`[pipeline ${o.engine}] starting aggregators, worker processes and compute pools…`);
  const started: Array<Promise<unknown>> = [];
  for (const c of configs) {
    c.client ??= new EmbedcamClient(dep.config(c.prefix));
    if (c !== first) closers.push(() => c.client!.close());
    started.push(
      dep.startService('aggregator', c.prefix, o.timeoutMs).then((a) => {
        c.aggregator = a;
      }),
    );
    for (let i = 0; i < c.processes; i++)
      started.push(
        dep
          .startWorker(c.prefix, {
            threads: c.threads,
            model,
            engine: o.engine,
            batchSize: o.batchSize,
            timeoutMs: o.timeoutMs,
          })
          .then((w) => c.workers.push(w)),
      );
  }
  const queueAggregator = dep.startService('aggregator', queuePrefix, o.timeoutMs);
  started.push(queueAggregator);
  const computeThreads = [...new Set([1, T])].sort((a, b) => a - b);
  const computes = computeThreads.map((threads) => ({ threads, pool: null as ComputePool | null }));
  for (const c of computes)
    started.push(
      ComputePool.start({
        model,
        engine: o.engine,
        tfBackend: process.env.EMBEDCAM_TF_BACKEND,
        threads: c.threads,
      }).then((p) => {
        pools.push(p);
        c.pool = p;
        p.setProxies(proxyId, pData, pMeta);
      }),
    );
  const settled = await Promise.allSettled(started);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const runtime = computes[0].pool!.info.runtime;

  // ---- compute-only ------------------------------------------------------------------------------
  const batches: Array<typeof files> = [];
  for (let i = 0; i < N; i += o.batchSize) batches.push(files.slice(i, i + o.batchSize));
  async function computeOnce(pool: ComputePool): Promise<number> {
    let next = 0;
    const lane = async () => {
      while (next < batches.length) {
        const b = batches[next++];
        const out = await pool.explain({
          proxyId,
          target: 'gt',
          resolution: 'eval224',
          render: { heatmapPng: true, overlay: false },
          // A copy per image, as the worker sends them (the thread takes the buffer over).
          items: b.map((x) => ({ item: x.item, bytes: new Uint8Array(x.bytes) })),
        });
        const bad = out.find((x) => !x.ok);
        if (bad && !bad.ok) throw new Error(`compute-only: an image failed: ${bad.code}: ${bad.message}`);
      }
    };
    const t = performance.now();
    await withTimeout(
      Promise.all(Array.from({ length: 2 * pool.threads }, lane)),
      o.timeoutMs,
      'compute-only pass',
    );
    return (performance.now() - t) / 1000;
  }
  const computeRuns = new Map<
    number,
    Array<{ seconds: number; cpuMsPerImage: number; util: number; threadMs: number }>
  >(computes.map((c) => [c.threads, []]));
  async function timeCompute(c: (typeof computes)[number]): Promise<void> {
    const pool = c.pool!;
    const busy = (s: PoolStats) => s.computeMs;
    const s0 = pool.stats();
    const cpu0 = process.cpuUsage();
    const seconds = await computeOnce(pool);
    const cpu = process.cpuUsage(cpu0);
    computeRuns.get(c.threads)!.push({
      seconds,
      cpuMsPerImage: (cpu.user + cpu.system) / 1000 / N,
      util: (busy(pool.stats()) - busy(s0)) / (pool.threads * seconds * 1000),
      threadMs: (busy(pool.stats()) - busy(s0)) / N,
    });
  }

  // ---- pipeline runs -------------------------------------------------------------------------------
  let seq = 0;
  const runTag = Date.now().toString(36);
  /** Polls a run until its report is written; times (ms since `t0`) of its first and last count. */
  async function waitComplete(
    prefix: string,
    runId: string,
    client: EmbedcamClient,
    pollMs: number,
    t0: number,
  ): Promise<RunPhases> {
    const deadline = Date.now() + o.timeoutMs;
    const phases: RunPhases = { submitMs: 0, firstCountedMs: 0, countedMs: 0, reportMs: 0 };
    for (;;) {
      const p = await getRunProgress(client.redis, prefix, runId);
      const now = performance.now() - t0;
      if (!phases.firstCountedMs && p.done > 0) phases.firstCountedMs = now;
      if (!phases.countedMs && p.total > 0 && p.done >= p.total) phases.countedMs = now;
      if (p.status === 'complete') {
        phases.reportMs = now;
        phases.firstCountedMs ||= now;
        phases.countedMs ||= now;
        return phases;
      }
      dep.check();
      if (Date.now() > deadline)
        throw new Error(
          `run ${runId} on ${prefix} did not complete in ${o.timeoutMs / 1000} s (${p.done}/${p.total} counted)\n${dep.logs()}`,
        );
      await sleep(pollMs);
    }
  }

  async function pipelineRun(c: (typeof configs)[number], timed: boolean): Promise<PipelineRun> {
    const client = c.client!;
    const runId = `${timed ? 'b' : 'warm'}-${runTag}-${c.processes}x${c.threads}-${++seq}`;
    const before = await Promise.all(c.workers.map((w) => w.read()));
    await Promise.all(c.workers.map((w) => w.mark()));
    const pids = [...c.workers.map((w) => w.child.pid), c.aggregator!.pid, ...(rPid ? [rPid] : [])];
    const meter = new CpuMeter(pids);
    const t = performance.now();
    const submitted = await withTimeout(
      client.submitRun({ ...selection, runId, model, engine: o.engine, proxyId, overlays: false }),
      o.timeoutMs,
      `submitting run ${runId}`,
    );
    const submitMs = performance.now() - t;
    if (submitted.enqueued !== N)
      throw new Error(`run ${runId}: ${submitted.enqueued} of ${N} images enqueued`);
    const phases = { ...(await waitComplete(c.prefix, runId, client, 20, t)), submitMs };
    const wallMs = phases.reportMs;
    const cpuMsPerImage = meter.end(N, {
      workers: c.workers.map((w) => w.child.pid),
      aggregator: [c.aggregator!.pid],
      redis: rPid ? [rPid] : [],
    });
    const after = await Promise.all(c.workers.map((w) => w.read()));
    c.lastStats = after.map((a) => a.stats);
    const report = await client.getReport(runId);
    if (report.images.processed !== N || report.images.failed !== 0)
      throw new Error(
        `run ${runId}: report has ${JSON.stringify(report.images)}, expected ${N} processed, 0 failed`,
      );
    return {
      runId,
      seconds: wallMs / 1000,
      imagesPerSec: N / (wallMs / 1000),
      phases,
      cpuMsPerImage,
      workers: c.workers.map((_, i) => workerRun(before[i].stats, after[i].stats, after[i].lag, wallMs)),
    };
  }

  // ---- queue cost: a no-op processor that publishes the stored result as the worker does --------
  const qConfig = dep.config(queuePrefix);
  const qClient = new EmbedcamClient(qConfig);
  closers.push(() => qClient.close());
  const qAggregator = dep.children.find(
    (ch) => ch.prefix === queuePrefix && ch.name.startsWith('aggregator'),
  )!;
  const qConn = createRedis(o.redisUrl);
  const qResults = new Queue(QUEUES.results, { connection: qConn, prefix: queuePrefix });
  const qHeatmaps = new Queue(QUEUES.heatmaps, { connection: qConn, prefix: queuePrefix });
  for (const q of [qResults, qHeatmaps]) q.on('error', (err) => log(`[queue] ${q.name}: ${err.message}`));
  const noop = new Worker(
    QUEUES.heatmaps,
    async (job) => {
      const p = parsePayload(heatmapJobSchema, job.data, `heatmap job ${job.id}`);
      const key = storageKeys.result(p.runId, p.imageId);
      const r: ResultJob = {
        runId: p.runId,
        imageId: p.imageId,
        status: 'ok',
        key,
        uri: p.uri,
        label: p.label,
      };
      await qResults.add('result', r, {
        jobId: resultJobId(r.runId, r.imageId),
        ...resultJobOptions(qConfig.JOB_ATTEMPTS),
      });
      return { status: 'ok', key };
    },
    {
      connection: createRedis(o.redisUrl),
      prefix: queuePrefix,
      concurrency: qConfig.WORKER_CONCURRENCY,
      lockDuration: qConfig.JOB_LOCK_MS,
      stalledInterval: qConfig.STALLED_INTERVAL_MS,
      maxStalledCount: 1,
    },
  );
  noop.on('error', (err) => log(`[queue] no-op worker error: ${err.message}`));
  closers.push(async () => {
    await noop.close();
    await qResults.close();
    await qHeatmaps.close();
    qConn.disconnect();
  });
  await noop.waitUntilReady();

  /** Result files of `source` copied under a new run id, run.json and Redis state as submitRun makes them. */
  async function prepareQueueRun(source: string, runId: string, n: number): Promise<HeatmapJob[]> {
    const cfg = JSON.parse((await store.get(storageKeys.runConfig(source))).toString('utf8'));
    await store.put(storageKeys.runConfig(runId), JSON.stringify({ ...cfg, runId, total: n }, null, 2));
    const chosen = items.slice(0, n);
    await Promise.all(
      chosen.map(async (it) =>
        store.put(storageKeys.result(runId, it.id), await store.get(storageKeys.result(source, it.id)), {
          contentType: 'application/json',
        }),
      ),
    );
    await initRun(qClient.redis, queuePrefix, runId, n);
    return chosen.map((it) => heatmapJobFor(runId, it));
  }
  async function queueRun(source: string, n: number, pollMs: number) {
    const runId = `q-${runTag}-${n}-${++seq}`;
    const jobs = await prepareQueueRun(source, runId, n);
    const meter = new CpuMeter([qAggregator.pid, ...(rPid ? [rPid] : [])]);
    const t = performance.now();
    await qHeatmaps.addBulk(
      jobs.map((data) => ({
        name: 'heatmap',
        data,
        opts: { ...submittedJobOptions(qConfig.JOB_ATTEMPTS), jobId: heatmapJobId(runId, data.imageId) },
      })),
    );
    const { countedMs, reportMs } = await waitComplete(queuePrefix, runId, qClient, pollMs, t);
    const cpu = meter.end(n, { workers: [], aggregator: [qAggregator.pid], redis: rPid ? [rPid] : [] });
    return { countedMs, reportMs, cpu };
  }

  // ---- a compute thread's work, step by step (in this thread) -------------------------------------
  const steps = await BreakdownBench.load(o.engine, pData, pMeta);
  closers.push(async () => steps.dispose());
  const breakdowns: ComputeBreakdown[] = [];

  // ---- warm-up, then R interleaved repeats ----------------------------------------------------------
  log(`[pipeline ${o.engine}] warm-up…`);
  for (const c of computes) await computeOnce(c.pool!);
  await steps.run(files, o.batchSize);
  const sources: string[] = [];
  for (const c of configs) sources.push((await pipelineRun(c, false)).runId);
  await queueRun(sources[0], N, 10);
  await queueRun(sources[0], 1, 1);

  const queueRuns: Array<Awaited<ReturnType<typeof queueRun>>> = [];
  const latencies: Array<Awaited<ReturnType<typeof queueRun>>> = [];
  for (let r = 0; r < o.repeats; r++) {
    for (const c of computes) await timeCompute(c);
    breakdowns.push(await steps.run(files, o.batchSize));
    for (const c of configs) c.runs.push(await pipelineRun(c, true));
    queueRuns.push(await queueRun(sources[0], N, 10));
    latencies.push(await queueRun(sources[0], 1, 1));
    const line = [
      ...computes.map(
        (c) => `compute ${c.threads}t ${(N / computeRuns.get(c.threads)!.at(-1)!.seconds).toFixed(1)}`,
      ),
      ...configs.map((c) => `${c.processes}×${c.threads} ${c.runs.at(-1)!.imagesPerSec.toFixed(1)}`),
      `queue ${(queueRuns.at(-1)!.countedMs / N).toFixed(2)} ms/img`,
    ].join(', ');
    log(`[pipeline ${o.engine}] repeat ${r + 1}/${o.repeats}: ${line} (images/s)`);
  }

  // ---- per-process figures, before stopping them ------------------------------------------------------
  const pipeline: PipelineConfigResult[] = configs.map((c) => ({
    name: c.name,
    processes: c.processes,
    threadsPerProcess: c.threads,
    imagesPerSec: median(c.runs.map((r) => r.imagesPerSec)),
    runs: c.runs,
    perProcess: c.workers.map((w, i) => ({
      pid: w.child.pid,
      peakRssMiB: peakRssMiB(w.child.pid),
      lagP99Ms: median(c.runs.map((r) => r.workers[i].lagP99Ms)),
      lagMaxMs: Math.max(...c.runs.map((r) => r.workers[i].lagMaxMs)),
      stats: c.lastStats[i],
    })),
  }));
  const computeOnly: ComputeOnlyResult[] = computes.map((c) => {
    const runs = computeRuns.get(c.threads)!;
    return {
      threads: c.threads,
      imagesPerSec: median(runs.map((r) => N / r.seconds)),
      runs: runs.map((r) => N / r.seconds),
      cpuMsPerImage: median(runs.map((r) => r.cpuMsPerImage)),
      threadUtilisation: median(runs.map((r) => r.util)),
      threadMsPerImage: median(runs.map((r) => r.threadMs)),
    };
  });
  const countedSeconds = queueRuns.map((q) => q.countedMs / 1000);
  const queue: QueueCostResult = {
    images: N,
    countedSeconds,
    reportSeconds: queueRuns.map((q) => q.reportMs / 1000),
    msPerImage: (median(countedSeconds) * 1000) / N,
    imagesPerSec: N / median(countedSeconds),
    latencyCountedMs: median(latencies.map((q) => q.countedMs)),
    latencyReportMs: median(latencies.map((q) => q.reportMs)),
    cpuMsPerImage: medianCpu(queueRuns.map((q) => q.cpu)),
  };
  const ips = (processes: number, threads: number) =>
    pipeline.find((p) => p.processes === processes && p.threadsPerProcess === threads)?.imagesPerSec ?? null;
  const cps = (threads: number) => computeOnly.find((c) => c.threads === threads)?.imagesPerSec ?? null;
  const ratio = (a: number | null, b: number | null) => (a !== null && b !== null ? a / b : null);
  return {
    engine: o.engine,
    runtime,
    images: N,
    classes: selection.classes,
    repeats: o.repeats,
    threads: T,
    batchSize: o.batchSize,
    computeOnly,
    breakdown: Object.fromEntries(
      Object.keys(breakdowns[0]).map((k) => [
        k,
        median(breakdowns.map((b) => b[k as keyof ComputeBreakdown])),
      ]),
    ) as unknown as ComputeBreakdown,
    pipeline,
    queue,
    ratios: {
      pipelineOverCompute: ratio(ips(1, T), cps(T))!,
      pipelineOverCompute1: ratio(ips(1, 1), cps(1)),
      twoOverOne: ratio(ips(2, 1), ips(1, 1)),
      computeScaling: T > 1 ? ratio(cps(T), cps(1)) : null,
    },
  };
}

/** A configuration's run phases (medians) and per-process figures (means), for the report. */
export function stageMeans(c: PipelineConfigResult) {
  const all = c.runs.flatMap((r) => r.workers);
  const phase = (k: keyof RunPhases) => median(c.runs.map((r) => r.phases[k]));
  return {
    submitMs: phase('submitMs'),
    firstCountedMs: phase('firstCountedMs'),
    countedMs: phase('countedMs'),
    reportMs: phase('reportMs'),
    threadMs: mean(all.map((w) => w.threadMsPerImage)),
    read: mean(all.map((w) => w.stageMeanMs.read)),
    compute: mean(all.map((w) => w.stageMeanMs.compute)),
    write: mean(all.map((w) => w.stageMeanMs.write)),
    batch: mean(all.map((w) => w.meanBatchSize)),
    util: mean(all.map((w) => w.threadUtilisation)),
  };
}
