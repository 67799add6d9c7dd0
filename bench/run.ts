// `npm run bench`: compute (forward vs heatmaps, naive Grad-CAM) then the pipeline benchmarks;
// prints Markdown tables and writes docs/performance.json (every raw figure and the machine) and
// docs/performance.md. Flags (or BENCH_* environment variables), all optional:
//
//   --repeats 3            repeats of every measurement (medians are reported)
//   --images 96            images per pipeline run (CUB test images)
//   --compute-images 32    images of the compute benchmark (≥ the largest batch)
//   --batches 1,8,32       compute benchmark batch sizes
//   --engines tfjs,onnx    compute benchmark engines
//   --naive-batch 8        batch of the naive Grad-CAM comparison (TF.js)
//   --pipeline-engines onnx   engines of the pipeline benchmark (tfjs is ~7× slower)
//   --threads N            compute threads of the 1-process pipeline (default: cores)
//   --batch-size 16        worker BATCH_MAX_SIZE and compute-only batch
//   --skip naive,pipeline  sections to leave out (compute, naive, pipeline)
//   --out docs             where performance.{json,md} go
//   --timeout 300          seconds any single wait may take
//   --redis-url URL        default TEST_REDIS_URL, REDIS_URL, else redis://127.0.0.1:6379
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { redisAnswers } from '@embedcam/queues';
import { HAS_SHARED, SHARED_DIR } from '@embedcam/test-support/shared-data';
import { benchCompute, benchNaive } from './compute.bench.js';
import { activeDeployments, benchPipeline } from './pipeline.bench.js';
import { type BenchResults, renderMarkdown } from './report.js';
import { machine } from './support.js';

const GOALS = { heatmapOverForward: 0.9, pipelineOverCompute: 0.8, twoOverOne: 1.7 };

const { values } = parseArgs({
  options: {
    repeats: { type: 'string' },
    images: { type: 'string' },
    'compute-images': { type: 'string' },
    batches: { type: 'string' },
    engines: { type: 'string' },
    'naive-batch': { type: 'string' },
    'pipeline-engines': { type: 'string' },
    threads: { type: 'string' },
    'batch-size': { type: 'string' },
    skip: { type: 'string' },
    out: { type: 'string' },
    timeout: { type: 'string' },
    'redis-url': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  allowPositionals: false,
});

if (values.help) {
  const text = (await import('node:fs')).readFileSync(new URL(import.meta.url), 'utf8');
  process.stdout.write(
    `${text
      .split('\n')
      .filter((l) => l.startsWith('//'))
      .map((l) => l.slice(3))
      .join('\n')}\n`,
  );
  process.exit(0);
}

/** Flag, else BENCH_<NAME> from the environment, else the default. */
function opt(name: keyof typeof values, def: string): string {
  const v = values[name] ?? process.env[`BENCH_${String(name).toUpperCase().replace(/-/g, '_')}`];
  return typeof v === 'string' && v !== '' ? v : def;
}
function int(name: keyof typeof values, def: number, min = 1): number {
  const s = opt(name, String(def));
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min} (got "${s}")\n`);
    process.exit(2);
  }
  return n;
}
function list<T extends string>(name: keyof typeof values, def: string, allowed: readonly T[]): T[] {
  const xs = opt(name, def)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const x of xs)
    if (!allowed.includes(x as T)) {
      process.stderr.write(`--${name}: "${x}" is not one of ${allowed.join(', ')}\n`);
      process.exit(2);
    }
  return xs as T[];
}

const params = {
  repeats: int('repeats', 3),
  images: int('images', 96),
  computeImages: int('compute-images', 32),
  batches: opt('batches', '1,8,32')
    .split(',')
    .map((s) => Number(s)),
  engines: list('engines', 'tfjs,onnx', ['tfjs', 'onnx'] as const),
  naiveBatch: int('naive-batch', 8),
  pipelineEngines: list('pipeline-engines', 'onnx', ['tfjs', 'onnx'] as const),
  threads: int('threads', os.availableParallelism()),
  batchSize: int('batch-size', 16),
  skip: list('skip', '', ['compute', 'naive', 'pipeline'] as const),
  out: path.resolve(opt('out', 'docs')),
  timeoutMs: int('timeout', 300) * 1000,
  redisUrl:
    values['redis-url'] ?? process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
};
if (params.batches.some((b) => !Number.isInteger(b) || b < 1)) {
  process.stderr.write('--batches must be a comma-separated list of positive integers\n');
  process.exit(2);
}
params.computeImages = Math.max(params.computeImages, ...params.batches);

// ---- cleanup on every way out -------------------------------------------------------------------
let interrupted = false;
async function onSignal(signal: NodeJS.Signals) {
  if (interrupted) process.exit(130);
  interrupted = true;
  process.stderr.write(`\n${signal}: stopping services and deleting the benchmark's Redis keys…\n`);
  await Promise.allSettled([...activeDeployments].map((d) => d.cleanup()));
  process.exit(130);
}
process.on('SIGINT', (s) => void onSignal(s));
process.on('unhandledRejection', (err) => {
  process.stderr.write(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}\n`);
  void Promise.allSettled([...activeDeployments].map((d) => d.cleanup())).then(() => process.exit(1));
});
process.on('SIGTERM', (s) => void onSignal(s));
process.on('exit', () => {
  for (const d of activeDeployments) d.killChildrenNow();
});

const say = (s: string) => process.stderr.write(`${s}\n`);

if (!HAS_SHARED) {
  say(`The benchmark needs the shared CUB subset and model under ${SHARED_DIR} (set EMBEDCAM_SHARED_DIR).`);
  process.exit(2);
}

const started = performance.now();
const results: BenchResults = {
  date: new Date().toISOString(),
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
  machine: { ...machine(), loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100) },
  params,
  goals: GOALS,
  pipeline: [],
  errors: [],
  seconds: 0,
};

async function section(name: string, f: () => Promise<void>) {
  const t = performance.now();
  say(`== ${name}`);
  try {
    await f();
  } catch (err) {
    const message = (err as Error).stack ?? String(err);
    results.errors.push({ section: name, message });
    say(`!! ${name} failed: ${message}`);
  }
  say(`   (${((performance.now() - t) / 1000).toFixed(0)} s)`);
}

if (!params.skip.includes('compute'))
  await section('compute: forward vs heatmaps', async () => {
    results.compute = await benchCompute({
      batches: params.batches,
      repeats: params.repeats,
      images: params.computeImages,
      engines: params.engines,
    });
  });
if (!params.skip.includes('naive'))
  await section('naive Grad-CAM (TF.js)', async () => {
    results.naive = await benchNaive({ batch: params.naiveBatch, repeats: params.repeats });
  });
if (!params.skip.includes('pipeline')) {
  if (!(await redisAnswers(params.redisUrl, 1000))) {
    results.errors.push({
      section: 'pipeline',
      message: `No Redis answers at ${params.redisUrl} (start redis-server or set --redis-url)`,
    });
    say(`!! pipeline skipped: no Redis at ${params.redisUrl}`);
  } else {
    for (const engine of params.pipelineEngines)
      await section(`pipeline (${engine})`, async () => {
        results.pipeline.push(
          await benchPipeline({
            engine,
            images: params.images,
            repeats: params.repeats,
            threads: params.threads,
            batchSize: params.batchSize,
            redisUrl: params.redisUrl,
            timeoutMs: params.timeoutMs,
            log: say,
          }),
        );
      });
  }
}
results.seconds = (performance.now() - started) / 1000;
results.machine.loadAverageEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

const md = renderMarkdown(results);
process.stdout.write(`${md}\n`);
await mkdir(params.out, { recursive: true });
await writeFile(path.join(params.out, 'performance.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(path.join(params.out, 'performance.md'), md);
say(
  `wrote ${path.join(params.out, 'performance.md')} and performance.json (${results.seconds.toFixed(0)} s)`,
);
process.exit(results.errors.length ? 1 : 0);
