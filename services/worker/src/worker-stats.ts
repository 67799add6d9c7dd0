// The worker's own figures: job counters, time per stage, event-loop lag, throughput. Figures that
// other units keep (active jobs, batcher, compute pools) are passed in when a snapshot is taken.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BatcherStats, ModelPoolStats } from '@embedcam/compute';
import type { Logger } from '@embedcam/queues';

export interface WorkerStats {
  jobs: {
    active: number;
    /** Jobs finished with a result job (ok or failed). */
    completed: number;
    ok: number;
    failed: number;
    /** Attempts that failed transiently and were left to BullMQ to retry. */
    retried: number;
  };
  /** Completed jobs per second, from the first job's start to the last job's end. */
  imagesPerSecond: number;
  /** Event-loop delay since start beyond the 10 ms sampling interval (monitorEventLoopDelay). */
  eventLoopLagP99Ms: number;
  eventLoopLagMaxMs: number;
  /**
   * Mean time per ok image in each stage: reading the file; compute (waiting for a batch and a
   * thread, decode + resize, EmbeddingCAM, metrics, PNG and overlay encoding); writing the files.
   */
  stageMeanMs: StageTimes;
  batcher: BatcherStats;
  compute: ModelPoolStats[];
}

/** Milliseconds spent on one image (or, summed, on all ok images) per stage. */
export interface StageTimes {
  read: number;
  compute: number;
  write: number;
}

/** What the other units report at the time of a snapshot. */
export interface LiveFigures {
  active: number;
  batcher: BatcherStats;
  compute: ModelPoolStats[];
}

/** The periodic log line: totals so far, plus the lag of the window since the previous line. */
export interface StatsLine {
  completed: number;
  ok: number;
  failed: number;
  active: number;
  imagesPerSecond: number;
  eventLoopLagP99Ms: number;
  meanBatchSize: number;
  queuedBatches: number;
}

const ms = (ns: number) => Math.round(ns / 1e4) / 100;
/** monitorEventLoopDelay's sampling interval: its histogram includes it, so it is subtracted. */
const LAG_RESOLUTION_MS = 10;
const lagMs = (ns: number) => Math.max(0, ms(ns) - LAG_RESOLUTION_MS);
const oneDecimal = (x: number) => Math.round(x * 10) / 10;

export class WorkerStatsRecorder {
  private readonly counters = { completed: 0, ok: 0, failed: 0, retried: 0 };
  private readonly stage: StageTimes = { read: 0, compute: 0, write: 0 };
  private firstJobAt = 0;
  private lastDoneAt = 0;
  /** Since start (stats()) and since the previous log line (the periodic line). */
  private readonly lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private readonly lagWindow = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  private timer: NodeJS.Timeout | undefined;

  /** `now` is a test hook (default performance.now). */
  constructor(private readonly now: () => number = () => performance.now()) {
    this.lag.enable();
    this.lagWindow.enable();
  }

  jobStarted(): void {
    this.firstJobAt ||= this.now();
  }

  /** Stage times of an image whose files were written (counted even if its result job fails later). */
  addStageTimes(t: StageTimes): void {
    this.stage.read += t.read;
    this.stage.compute += t.compute;
    this.stage.write += t.write;
  }

  ok(): void {
    this.counters.ok++;
    this.done();
  }

  /** A failed result was published. */
  failed(): void {
    this.counters.failed++;
    this.done();
  }

  /** A job too malformed to publish a result for: failed, but no result job, so not completed. */
  dropped(): void {
    this.counters.failed++;
  }

  retried(): void {
    this.counters.retried++;
  }

  counts(): Omit<WorkerStats['jobs'], 'active'> {
    return { ...this.counters };
  }

  snapshot(live: LiveFigures): WorkerStats {
    const ok = Math.max(1, this.counters.ok);
    const { firstJobAt, lastDoneAt } = this;
    const elapsed = firstJobAt && lastDoneAt > firstJobAt ? (lastDoneAt - firstJobAt) / 1000 : 0;
    return {
      jobs: { active: live.active, ...this.counters },
      imagesPerSecond: elapsed > 0 ? this.counters.completed / elapsed : 0,
      eventLoopLagP99Ms: lagMs(this.lag.percentile(99)),
      eventLoopLagMaxMs: lagMs(this.lag.max),
      stageMeanMs: {
        read: this.stage.read / ok,
        compute: this.stage.compute / ok,
        write: this.stage.write / ok,
      },
      batcher: live.batcher,
      compute: live.compute,
    };
  }

  /** The periodic line for a snapshot; starts the next lag window. */
  line(s: WorkerStats): StatsLine {
    const windowP99 = lagMs(this.lagWindow.percentile(99));
    this.lagWindow.reset();
    return {
      completed: s.jobs.completed,
      ok: s.jobs.ok,
      failed: s.jobs.failed,
      active: s.jobs.active,
      imagesPerSecond: oneDecimal(s.imagesPerSecond),
      eventLoopLagP99Ms: windowP99,
      meanBatchSize: oneDecimal(s.batcher.meanBatchSize),
      queuedBatches: s.compute.reduce((n, c) => n + c.queued, 0),
    };
  }

  /** Logs the line every intervalMs: at info while jobs are active, else at debug (an idle worker is quiet). */
  logEvery(intervalMs: number, log: Logger, current: () => WorkerStats): void {
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      const s = current();
      const line = this.line(s);
      if (s.jobs.active > 0) log.info(line, 'worker stats');
      else log.debug(line, 'worker stats');
    }, intervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    this.lag.disable();
    this.lagWindow.disable();
  }

  private done(): void {
    this.counters.completed++;
    this.lastDoneAt = this.now();
  }
}
