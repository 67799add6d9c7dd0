import type { DatasetItem } from '@embedcam/datasets';
import { type ImageMetrics, MetricsAccumulator, type MetricsSummary } from '@embedcam/metrics';
import type { ExplainedImage } from './explain-batch.js';
import type { FailedItem } from './image-batch.js';

/** One line of results.jsonl: everything needed to recompute the aggregates exactly. */
export interface ImageResult {
  id: string;
  uri: string;
  label: number;
  className?: string;
  split?: string;
  original: { width: number; height: number };
  bbox?: [number, number, number, number];
  targetLabel: number;
  score: number;
  nearestLabel: number;
  allZero: boolean;
  /** The raw h×w map before upsampling (ReLU'd, not normalised), row-major. */
  rawMap: { width: number; height: number; data: number[] };
  metrics: ImageMetrics | null;
  heatmap?: string;
  overlay?: string;
}

export interface FailureRecord {
  id: string;
  uri: string;
  label: number;
  code: string;
  message: string;
  /**
   * true: a pipeline failure whose cause may pass (a transient error that used up its retries, or a
   * stalled job); `embedcam run --retry-failed` redoes it. Absent for permanent failures.
   */
  transient?: boolean;
}

export function toImageResult(
  e: ExplainedImage,
  files: { heatmap?: string; overlay?: string } = {},
): ImageResult {
  const it: DatasetItem = e.item;
  return {
    id: it.id,
    uri: it.uri,
    label: it.label,
    className: it.className,
    split: it.split,
    original: e.image.original,
    bbox: it.bbox,
    targetLabel: e.targetLabel,
    score: e.score,
    nearestLabel: e.nearestLabel,
    allZero: e.evaluated.allZero,
    rawMap: { width: e.raw.width, height: e.raw.height, data: Array.from(e.raw.data) },
    metrics: e.evaluated.metrics,
    ...files,
  };
}

export function toFailureRecord(f: FailedItem): FailureRecord {
  return { id: f.item.id, uri: f.item.uri, label: f.item.label, code: f.code, message: f.message };
}

export interface ClassSummary {
  label: number;
  className?: string;
  images: number;
  meanEnergyRatio: number | null;
  meanChance: number | null;
  gtKnownLoc: number | null;
  pointingGame: number | null;
}

export interface RunSummary {
  run: Record<string, unknown>;
  images: { selected: number; processed: number; failed: number; withBox: number };
  metrics: MetricsSummary | null;
  perClass: ClassSummary[];
  audit: {
    /** Attention off the object: the lowest energy ratios. */
    lowestEnergyRatio: Array<{ id: string; label: number; energyRatio: number | null; chance: number }>;
    /** Images whose nearest proxy is not their label. */
    nearestProxyMismatch: Array<{ id: string; label: number; nearestLabel: number }>;
    nearestProxyAccuracy: number | null;
  };
  failures: FailureRecord[];
}

/** What a summary needs of one explained image (a results.jsonl line carries more). */
export interface SummaryImage {
  id: string;
  label: number;
  className?: string;
  nearestLabel: number;
  /** null when the image was not evaluated (no box). */
  metrics: Pick<ImageMetrics, 'energyRatio' | 'chance'> | null;
}

export interface SummaryParts {
  run: Record<string, unknown>;
  /** Explained images, any order. */
  images: readonly SummaryImage[];
  /** Failed images, any order. */
  failures: readonly FailureRecord[];
  /** Metrics of every evaluated image. */
  all: MetricsAccumulator;
  /** Metrics of one class's evaluated images (undefined or empty when it has none). */
  classMetrics: (label: number) => MetricsAccumulator | undefined;
}

export interface RunSummaryOptions {
  tau?: number;
  /** Length of the lowest-energy-ratio audit list (default 20). */
  auditSize?: number;
}

/** Image ids in report order: numeric-aware ("2" before "10"), then lexical. */
export function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Assembles summary.json from its parts. Shared by the one-process builder below and the
 * distributed aggregator (which keeps the accumulators as Redis counters), so both write the same
 * shape and ordering: classes by label, audit lists and failures by id. A class's name is the
 * first one given among its images in id order.
 */
export function assembleRunSummary(p: SummaryParts, opts: RunSummaryOptions = {}): RunSummary {
  const k = opts.auditSize ?? 20;
  const byId = (a: { id: string }, b: { id: string }) => compareIds(a.id, b.id);
  const images = [...p.images].sort(byId);
  const lowest = images
    .filter((r) => r.metrics)
    .map((r) => ({
      id: r.id,
      label: r.label,
      energyRatio: r.metrics!.energyRatio,
      chance: r.metrics!.chance,
    }))
    .sort((a, b) => (a.energyRatio ?? -1) - (b.energyRatio ?? -1) || byId(a, b))
    .slice(0, k);
  const mismatch = images
    .filter((r) => r.nearestLabel !== r.label)
    .map((r) => ({ id: r.id, label: r.label, nearestLabel: r.nearestLabel }));
  const classes = new Map<number, { name?: string; images: number }>();
  for (const r of images) {
    const c = classes.get(r.label) ?? { images: 0 };
    c.images++;
    c.name ??= r.className;
    classes.set(r.label, c);
  }
  const perClass = [...classes.entries()]
    .sort(([a], [b]) => a - b)
    .map(([label, c]): ClassSummary => {
      const acc = p.classMetrics(label);
      const s = acc && acc.count > 0 ? acc.summary({ tau: opts.tau }) : null;
      return {
        label,
        className: c.name,
        images: c.images,
        meanEnergyRatio: s?.meanEnergyRatio ?? null,
        meanChance: s?.meanChance ?? null,
        gtKnownLoc: s?.gtKnownLoc.value ?? null,
        pointingGame: s?.pointingGame ?? null,
      };
    });
  const processed = images.length;
  return {
    run: p.run,
    images: {
      selected: processed + p.failures.length,
      processed,
      failed: p.failures.length,
      withBox: p.all.count,
    },
    metrics: p.all.count > 0 ? p.all.summary({ tau: opts.tau }) : null,
    perClass,
    audit: {
      lowestEnergyRatio: lowest,
      nearestProxyMismatch: mismatch,
      nearestProxyAccuracy: processed > 0 ? (processed - mismatch.length) / processed : null,
    },
    failures: [...p.failures].sort(byId),
  };
}

/**
 * Builds summary.json from per-image results. Aggregates come from exact counters, so any process
 * that sees the same set of results (in any order) writes the same numbers.
 */
export class RunSummaryBuilder {
  private readonly all = new MetricsAccumulator();
  private readonly perClass = new Map<number, MetricsAccumulator>();
  private readonly results: SummaryImage[] = [];
  private readonly failures: FailureRecord[] = [];

  addResult(r: ImageResult): void {
    const m = r.metrics;
    this.results.push({
      id: r.id,
      label: r.label,
      className: r.className,
      nearestLabel: r.nearestLabel,
      metrics: m ? { energyRatio: m.energyRatio, chance: m.chance } : null,
    });
    if (m) {
      let acc = this.perClass.get(r.label);
      if (!acc) {
        acc = new MetricsAccumulator();
        this.perClass.set(r.label, acc);
      }
      this.all.add(m);
      acc.add(m);
    }
  }

  addFailure(f: FailureRecord): void {
    this.failures.push(f);
  }

  get processed(): number {
    return this.results.length;
  }

  build(run: Record<string, unknown>, opts: RunSummaryOptions = {}): RunSummary {
    return assembleRunSummary(
      {
        run,
        images: this.results,
        failures: this.failures,
        all: this.all,
        classMetrics: (label) => this.perClass.get(label),
      },
      opts,
    );
  }
}
