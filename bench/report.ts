// docs/performance.md from the benchmark's figures: tables with ratios against the goals, and a
// "where the time goes" section computed from the same data.
import type { ComputeRow, NaiveRow } from './compute.bench.js';
import { type PipelineBenchResult, type PipelineConfigResult, stageMeans } from './pipeline.bench.js';
import type { machine } from './support.js';
import { table } from './support.js';

export interface Goals {
  heatmapOverForward: number;
  pipelineOverCompute: number;
  twoOverOne: number;
}

export interface BenchResults {
  date: string;
  command: string;
  machine: ReturnType<typeof machine> & { loadAverage: number[]; loadAverageEnd?: number[] };
  params: Record<string, unknown>;
  goals: Goals;
  compute?: ComputeRow[];
  naive?: NaiveRow;
  pipeline: PipelineBenchResult[];
  errors: Array<{ section: string; message: string }>;
  seconds: number;
}

const f1 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1);
const f2 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(2);
const pct = (x: number) => `${Math.round(x * 100)}%`;
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${f1(Math.abs(x))}`;
const goal = (v: number | null, g: number) => (v === null ? '–' : `≥ ${g} ${v >= g ? '✓' : '✗'}`);

function computeSection(rows: ComputeRow[], goals: Goals): string[] {
  return [
    '## Compute: forward only against heatmaps',
    '',
    'One process, one thread, the same CUB batch: the embedding (forward only) against full heatmaps',
    '(forward to the target layer, head gradient, CAM, upsampling, normalisation), timed side by side;',
    'the last column leaves out the upsampling and normalisation (the raw h×w CAM).',
    '',
    table(
      [
        'engine',
        'batch',
        'forward images/s',
        'heatmaps/s',
        'heatmaps / forward',
        'goal',
        'raw CAMs / forward',
      ],
      rows.map((r) => [
        r.engine,
        r.batch,
        f1(r.forwardPerSec),
        f1(r.heatmapsPerSec),
        f2(r.ratio),
        goal(r.ratio, goals.heatmapOverForward),
        f2(r.rawRatio),
      ]),
    ),
    '',
  ];
}

function naiveSection(n: NaiveRow): string[] {
  return [
    '## Against a naive Grad-CAM (TF.js)',
    '',
    'The naive way (as common Python libraries do it) back-propagates from the score through the whole',
    'backbone to the input; ours runs the backbone forward only and differentiates the small head.',
    '',
    table(
      ['batch', 'ours heatmaps/s', 'naive heatmaps/s', 'naive / ours', 'ours is faster by'],
      [[n.batch, f1(n.oursPerSec), f1(n.naivePerSec), f2(1 / n.speedup), `${f2(n.speedup)}×`]],
    ),
    '',
  ];
}

const cfgLabel = (c: PipelineConfigResult) => `pipeline, ${c.name}`;

function pipelineSection(p: PipelineBenchResult, goals: Goals, cores: number): string[] {
  const c1 = p.computeOnly.find((c) => c.threads === 1);
  const cT = p.computeOnly.find((c) => c.threads === p.threads);
  const pT = p.pipeline.find((c) => c.processes === 1 && c.threadsPerProcess === p.threads)!;
  const p11 = p.pipeline.find((c) => c.processes === 1 && c.threadsPerProcess === 1);
  const p21 = p.pipeline.find((c) => c.processes === 2 && c.threadsPerProcess === 1);
  const runs = (xs: number[]) => xs.map(f1).join(', ');
  const b = p.breakdown;
  const rows: Array<Array<string | number>> = [];
  if (c1) rows.push(['compute only, 1 thread', f1(c1.imagesPerSec), runs(c1.runs), '', '']);
  if (cT && cT !== c1)
    rows.push([
      `compute only, ${cT.threads} threads`,
      f1(cT.imagesPerSec),
      runs(cT.runs),
      `${f2(p.ratios.computeScaling)} over 1 thread`,
      '',
    ]);
  rows.push([
    cfgLabel(pT),
    f1(pT.imagesPerSec),
    runs(pT.runs.map((r) => r.imagesPerSec)),
    `${f2(p.ratios.pipelineOverCompute)} over compute only`,
    goal(p.ratios.pipelineOverCompute, goals.pipelineOverCompute),
  ]);
  if (p11 && p11 !== pT)
    rows.push([
      cfgLabel(p11),
      f1(p11.imagesPerSec),
      runs(p11.runs.map((r) => r.imagesPerSec)),
      `${f2(p.ratios.pipelineOverCompute1)} over compute only`,
      '',
    ]);
  if (p21)
    rows.push([
      cfgLabel(p21),
      f1(p21.imagesPerSec),
      runs(p21.runs.map((r) => r.imagesPerSec)),
      `${f2(p.ratios.twoOverOne)} over 1 × 1`,
      goal(p.ratios.twoOverOne, goals.twoOverOne),
    ]);

  const procRows: Array<Array<string | number>> = [];
  for (const c of p.pipeline) {
    const all = c.runs.map((r) => r.workers);
    c.perProcess.forEach((w, i) => {
      const per = all.map((ws) => ws[i]);
      const m = (f: (x: (typeof per)[number]) => number) => per.reduce((s, x) => s + f(x), 0) / per.length;
      procRows.push([
        c.name,
        i + 1,
        f1(w.peakRssMiB),
        f1(w.lagP99Ms),
        f1(w.lagMaxMs),
        f1(m((x) => x.stageMeanMs.read)),
        f1(m((x) => x.stageMeanMs.compute)),
        f1(m((x) => x.stageMeanMs.write)),
        f1(m((x) => x.meanBatchSize)),
        f1(m((x) => x.threadMsPerImage)),
        pct(m((x) => x.threadUtilisation)),
      ]);
    });
  }

  const q = p.queue;
  const cpuRows: Array<Array<string | number>> = [];
  for (const c of p.computeOnly)
    cpuRows.push([
      `compute only, ${c.threads} thread${c.threads > 1 ? 's' : ''}`,
      f1(1000 / c.imagesPerSec),
      f1(c.cpuMsPerImage),
      '',
      '',
      '',
      '',
      f1(c.cpuMsPerImage),
    ]);
  for (const c of p.pipeline) {
    const cpu = medianOf(c.runs.map((r) => r.cpuMsPerImage));
    cpuRows.push([
      cfgLabel(c),
      f1(1000 / c.imagesPerSec),
      `${f1(cpu.workers)} (${f1(cpu.workersMainThread)})`,
      f1(cpu.aggregator),
      f1(cpu.redis),
      f1(cpu.bench),
      '',
      f1(totalCpu(cpu)),
    ]);
  }
  cpuRows.push([
    'queue only (no-op processor)',
    f1(q.msPerImage),
    '',
    f1(q.cpuMsPerImage.aggregator),
    f1(q.cpuMsPerImage.redis),
    '',
    f1(q.cpuMsPerImage.bench),
    f1(totalCpu(q.cpuMsPerImage)),
  ]);

  return [
    `## The pipeline (${p.engine}, ${p.runtime})`,
    '',
    `${p.images} CUB test images (classes ${p.classes}), overlays off, batches of up to ${p.batchSize}, ` +
      `${p.repeats} repeat(s); medians. Compute only: a ComputePool doing a worker's compute work per image ` +
      '(decode + resize, EmbeddingCAM, metrics, heatmap PNG), two batches in flight per thread. Pipeline: ' +
      'submit → Redis/BullMQ → worker process(es) (read file, compute threads, write PNG + result JSON) → ' +
      'results queue → aggregator (counting, report) → report written; proxies built beforehand. Each ' +
      'configuration has its own processes and key prefix; all run side by side, repeats interleaved. ' +
      'Aggregator and proxy-builder are `embedcam aggregator|proxy-builder` processes; a worker process runs ' +
      "`embedcam worker`'s code (loadConfig + startWorker, `bench/worker-child.ts`) with a channel for its stats.",
    '',
    table(['measurement', 'images/s', 'runs', 'ratio', 'goal'], rows),
    '',
    'Phases of a pipeline run, ms from submit (medians); "between counts" is the rate from the first image ' +
      "counted to the last, without the run's start and end.",
    '',
    table(
      [
        'configuration',
        'submit returned',
        'first counted',
        'all counted',
        'report written',
        'between counts, images/s',
      ],
      p.pipeline.map((c) => {
        const s = stageMeans(c);
        return [
          c.name,
          f1(s.submitMs),
          f1(s.firstCountedMs),
          f1(s.countedMs),
          f1(s.reportMs),
          f1(betweenCounts(c, p.images)),
        ];
      }),
    ),
    '',
    "### A compute thread's work per image, step by step",
    '',
    `The steps of compute-thread.ts timed one after the other in one thread, in batches of ${p.batchSize} ` +
      '(ms per image; decoding runs on libuv/libvips threads, as in the compute thread).',
    '',
    table(
      ['decode + resize', 'forward', 'gradient + CAM', 'upsample + metrics', 'PNG', 'total', 'heatmap share'],
      [
        [
          f1(b.decodeResize),
          f1(b.forward),
          f1(b.gradientCam),
          f1(b.upsampleMetrics),
          f1(b.png),
          f1(b.total),
          pct((b.forward + b.gradientCam) / b.total),
        ],
      ],
    ),
    '',
    '### Worker processes',
    '',
    'Event-loop lag is the delay beyond a 10 ms timer during timed runs (p99: median over runs; max: over ' +
      'all runs). Stages are means per image: read the file; compute (waiting for a batch and a thread, then ' +
      'the compute — with a whole run enqueued at once, mostly waiting); write the PNG and result JSON. ' +
      '"Thread ms/image" is compute-thread busy time per image (compute only: ' +
      p.computeOnly
        .map((c) => `${f1(c.threadMsPerImage)} ms with ${c.threads} thread${c.threads > 1 ? 's' : ''}`)
        .join(', ') +
      '); "threads busy" is that time / (threads × wall) (compute only: ' +
      p.computeOnly.map((c) => pct(c.threadUtilisation)).join(', ') +
      ').',
    '',
    table(
      [
        'configuration',
        'process',
        'peak RSS MiB',
        'lag p99 ms',
        'lag max ms',
        'read ms',
        'compute ms',
        'write ms',
        'mean batch',
        'thread ms/image',
        'threads busy',
      ],
      procRows,
    ),
    '',
    '### The queue alone',
    '',
    `${q.images} jobs through BullMQ to a no-op processor that publishes the (already stored) result as the ` +
      'worker does, counted by the real aggregator, which also writes the report.',
    '',
    table(
      [
        'per image, N jobs (enqueue → counted)',
        'images/s',
        '1 job: enqueue → counted',
        '1 job: → report written',
      ],
      [
        [
          `${f2(q.msPerImage)} ms`,
          f1(q.imagesPerSec),
          `${f1(q.latencyCountedMs)} ms`,
          `${f1(q.latencyReportMs)} ms`,
        ],
      ],
    ),
    '',
    '### CPU per image',
    '',
    `CPU milliseconds per image by process (Linux /proc), against wall milliseconds per image; ${cores} cores ` +
      'give at most that many CPU ms per wall ms. Redis is the shared server (other clients count too).',
    '',
    table(
      [
        'measurement',
        'wall ms/image',
        'workers (main thread)',
        'aggregator',
        'Redis',
        'submit + poll',
        'no-op processor',
        'total CPU ms/image',
      ],
      cpuRows,
    ),
    '',
  ];
}

/** Images/s from the first count to the last (median over runs). */
function betweenCounts(c: PipelineConfigResult, n: number): number {
  const v = c.runs
    .map((r) => (n - 1) / ((r.phases.countedMs - r.phases.firstCountedMs) / 1000))
    .sort((a, b) => a - b);
  const h = Math.floor(v.length / 2);
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
}

function medianOf(xs: PipelineBenchResult['queue']['cpuMsPerImage'][]) {
  const m = (f: (x: (typeof xs)[number]) => number | null) => {
    const v = xs
      .map(f)
      .filter((x): x is number => x !== null)
      .sort((a, b) => a - b);
    if (v.length === 0) return null;
    const h = Math.floor(v.length / 2);
    return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
  };
  return {
    workers: m((x) => x.workers),
    workersMainThread: m((x) => x.workersMainThread),
    aggregator: m((x) => x.aggregator),
    redis: m((x) => x.redis),
    bench: m((x) => x.bench) ?? 0,
  };
}

function totalCpu(c: ReturnType<typeof medianOf>): number {
  return (c.workers ?? 0) + (c.aggregator ?? 0) + (c.redis ?? 0) + c.bench;
}

function whereTheTimeGoes(r: BenchResults): string[] {
  const out: string[] = ['## Where the time goes', ''];
  const cores = r.machine.cores;
  for (const c of r.compute ?? []) {
    if (c.ratio >= r.goals.heatmapOverForward) continue;
    const extra = 1000 / c.heatmapsPerSec - 1000 / c.forwardPerSec;
    out.push(
      `- **${c.engine}, batch ${c.batch}: heatmaps at ${f2(c.ratio)}× forward** (goal ${r.goals.heatmapOverForward}). ` +
        `A heatmap costs ${f1(extra)} ms per image on top of the forward pass (${f1(1000 / c.forwardPerSec)} ms): ` +
        'the head gradient, the weighted sum over channels and the 224×224 upsampling and normalisation. ' +
        `Without the upsampling and normalisation (raw ${'h×w'} CAMs) the ratio is ${f2(c.rawRatio)}: ` +
        `${f1(1000 / c.rawCamsPerSec - 1000 / c.forwardPerSec)} ms for the gradient and CAM, ${f1(1000 / c.heatmapsPerSec - 1000 / c.rawCamsPerSec)} ms for the upsampling to 224×224 and normalisation in JavaScript.`,
    );
  }
  if (r.naive)
    out.push(
      `- **Naive Grad-CAM**: back-propagating through the whole backbone makes a heatmap ${f2(r.naive.speedup)}× ` +
        `as slow as ours (batch ${r.naive.batch}, TF.js).`,
    );
  for (const p of r.pipeline) {
    const pT = p.pipeline.find((c) => c.processes === 1 && c.threadsPerProcess === p.threads)!;
    const cT = p.computeOnly.find((c) => c.threads === p.threads)!;
    const cpuP = medianOf(pT.runs.map((x) => x.cpuMsPerImage));
    const s = stageMeans(pT);
    const wallLoss = 1000 / pT.imagesPerSec - 1000 / cT.imagesPerSec;
    const b = p.breakdown;
    const share = (x: number) => pct(x / b.total);
    out.push(
      `- **A compute thread's work per image (${p.engine})**: ${f1(b.total)} ms in one thread — decode + resize ` +
        `${f1(b.decodeResize)} ms (${share(b.decodeResize)}), forward ${f1(b.forward)} ms (${share(b.forward)}), ` +
        `gradient + CAM ${f1(b.gradientCam)} ms (${share(b.gradientCam)}), upsampling + metrics ` +
        `${f1(b.upsampleMetrics)} ms (${share(b.upsampleMetrics)}), PNG ${f1(b.png)} ms (${share(b.png)}). ` +
        (b.forward + b.gradientCam < b.total / 2
          ? `The heatmap itself (forward + gradient + CAM) is only ${share(b.forward + b.gradientCam)} of it: ` +
            'images/s of the pipeline are bounded by the per-image work around the network.'
          : `Most of it is the heatmap itself (${share(b.forward + b.gradientCam)}).`),
    );
    const extraCpu = totalCpu(cpuP) - cT.cpuMsPerImage;
    const ok = p.ratios.pipelineOverCompute >= r.goals.pipelineOverCompute;
    out.push(
      `- **Pipeline over compute (${p.engine}, ${pT.name}): ${f2(p.ratios.pipelineOverCompute)}** ` +
        `(goal ${r.goals.pipelineOverCompute} ${ok ? '✓' : '✗'}): ${f1(1000 / pT.imagesPerSec)} ms of wall per image ` +
        `against ${f1(1000 / cT.imagesPerSec)} ms for compute alone (${signed(wallLoss)} ms). ` +
        `CPU per image: compute alone ${f1(cT.cpuMsPerImage)} ms; the pipeline ${f1(totalCpu(cpuP))} ms — ` +
        `worker ${f1(cpuP.workers)} ms (its event-loop thread ${f1(cpuP.workersMainThread)} ms: BullMQ, Redis, ` +
        `file read, PNG/JSON writes), aggregator ${f1(cpuP.aggregator)} ms, Redis ${f1(cpuP.redis)} ms, ` +
        `submitter ${f1(cpuP.bench)} ms — ${signed(extraCpu)} ms, which on ${cores} busy cores alone accounts ` +
        `for ≈ ${signed(extraCpu / Math.min(cores, Math.max(1, p.threads)))} ms of wall per image. ` +
        `A run: submit ${f1(s.submitMs)} ms, first image counted at ${f1(s.firstCountedMs)} ms, all counted at ` +
        `${f1(s.countedMs)} ms, report written at ${f1(s.reportMs)} ms; between the first and the last count ` +
        `${f1(betweenCounts(pT, p.images))} images/s. ` +
        `A compute thread spent ${f1(s.threadMs)} ms per image (compute only: ${f1(cT.threadMsPerImage)} ms) and ` +
        `was busy ${pct(s.util)} of the run (compute only: ${pct(cT.threadUtilisation)}); batches averaged ` +
        `${f1(s.batch)} images. Worker stages per image: read ${f1(s.read)} ms, compute ${f1(s.compute)} ms ` +
        `(mostly waiting for a batch slot: the whole run is enqueued at once), write ${f1(s.write)} ms. ` +
        `Fixed per run: one job alone takes ${f1(p.queue.latencyReportMs)} ms from enqueue to report ` +
        `(${f1(p.queue.latencyReportMs / p.images)} ms per image of a ${p.images}-image run); the queue's own ` +
        `cost at throughput is ${f2(p.queue.msPerImage)} ms per image.`,
    );
    const p11 = p.pipeline.find((c) => c.processes === 1 && c.threadsPerProcess === 1);
    const p21 = p.pipeline.find((c) => c.processes === 2 && c.threadsPerProcess === 1);
    if (p11 && p21 && p.ratios.twoOverOne !== null) {
      const ok2 = p.ratios.twoOverOne >= r.goals.twoOverOne;
      const cpu11 = medianOf(p11.runs.map((x) => x.cpuMsPerImage));
      const cpu21 = medianOf(p21.runs.map((x) => x.cpuMsPerImage));
      const s21 = stageMeans(p21);
      out.push(
        `- **Two worker processes over one (${p.engine}): ${f2(p.ratios.twoOverOne)}** ` +
          `(goal ${r.goals.twoOverOne} ${ok2 ? '✓' : '✗'}). Compute alone scales by ` +
          `${f2(p.ratios.computeScaling)} from 1 to ${p.threads} threads on this machine: what its cores ` +
          `give to a second compute thread. With one process × 1 thread the second core carries the pipeline's other ` +
          `work (${f1(totalCpu(cpu11) - (cpu11.workers ?? 0) + (cpu11.workersMainThread ?? 0))} ms CPU per ` +
          `image in the workers' event loops, the aggregator, Redis and the submitter, besides the decoding ` +
          `threads of libvips); with two processes all of it competes with a second compute thread ` +
          `(total CPU ${f1(totalCpu(cpu11))} → ${f1(totalCpu(cpu21))} ms per image; compute threads busy ` +
          `${pct(s21.util)}).`,
      );
    }
    const lag = Math.max(...p.pipeline.flatMap((c) => c.perProcess.map((w) => w.lagP99Ms)));
    const lagMax = Math.max(...p.pipeline.flatMap((c) => c.perProcess.map((w) => w.lagMaxMs)));
    const rss = Math.max(...p.pipeline.flatMap((c) => c.perProcess.map((w) => w.peakRssMiB ?? 0)));
    out.push(
      `- **Worker processes under full load (${p.engine})**: event-loop lag p99 at most ${f1(lag)} ms ` +
        `(worst single delay ${f1(lagMax)} ms); peak RSS at most ${f1(rss)} MiB per process.`,
    );
  }
  if (r.machine.loadAverage[0] > 0.5)
    out.push(
      `- The machine was not idle when the benchmark started (load average ${r.machine.loadAverage.join(', ')}); ` +
        'absolute figures are lower than on a quiet machine, and ratios move too: the scheduler shares CPU ' +
        'per thread, so a measurement running more threads (the pipeline: workers, aggregator, Redis) gets ' +
        'a larger share than compute only. Rerun on a quiet machine for figures to rely on.',
    );
  out.push('');
  return out;
}

export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const lines: string[] = [
    '# Performance',
    '',
    `Measured by \`${r.command}\` on ${r.date.slice(0, 10)} in ${Math.round(r.seconds)} s; raw figures in ` +
      '`performance.json`. Every figure is the median of repeated runs measured side by side in one run.',
    '',
    `**Machine**: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB memory, Node ${m.node}, ${m.platform}; ` +
      `load average (1, 5, 15 min) at start ${m.loadAverage.join(', ')}` +
      (m.loadAverageEnd ? `, at end ${m.loadAverageEnd.join(', ')}.` : '.'),
    '',
  ];
  if (r.compute) lines.push(...computeSection(r.compute, r.goals));
  if (r.naive) lines.push(...naiveSection(r.naive));
  for (const p of r.pipeline) lines.push(...pipelineSection(p, r.goals, m.cores));
  lines.push(...whereTheTimeGoes(r));
  if (r.errors.length) {
    lines.push('## Errors', '');
    for (const e of r.errors) lines.push(`- ${e.section}: ${e.message.split('\n')[0]}`);
    lines.push('');
  }
  return lines.join('\n');
}
