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

/**
 * Builds summary.json from per-image results. Aggregates come from exact counters, so any process
 * that sees the same set of results (in any order) writes the same numbers.
 */
export class RunSummaryBuilder {
  private readonly all = new MetricsAccumulator();
  private readonly perClass = new Map<number, { acc: MetricsAccumulator; name?: string; images: number }>();
  private readonly results: Array<Pick<ImageResult, 'id' | 'label' | 'nearestLabel' | 'metrics'>> = [];
  private readonly failures: FailureRecord[] = [];

  addResult(r: ImageResult): void {
    this.results.push({ id: r.id, label: r.label, nearestLabel: r.nearestLabel, metrics: r.metrics });
    let cls = this.perClass.get(r.label);
    if (!cls) {
      cls = { acc: new MetricsAccumulator(), name: r.className, images: 0 };
      this.perClass.set(r.label, cls);
    }
    cls.images++;
    if (r.metrics) {
      this.all.add(r.metrics);
      cls.acc.add(r.metrics);
    }
  }

  addFailure(f: FailureRecord): void {
    this.failures.push(f);
  }

  get processed(): number {
    return this.results.length;
  }

  build(run: Record<string, unknown>, opts: { tau?: number; auditSize?: number } = {}): RunSummary {
    const k = opts.auditSize ?? 20;
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id, 'en', { numeric: true });
    const withMetrics = this.results.filter((r) => r.metrics).sort(byId);
    const lowest = withMetrics
      .map((r) => ({
        id: r.id,
        label: r.label,
        energyRatio: r.metrics!.energyRatio,
        chance: r.metrics!.chance,
      }))
      .sort((a, b) => (a.energyRatio ?? -1) - (b.energyRatio ?? -1) || byId(a, b))
      .slice(0, k);
    const mismatch = [...this.results]
      .sort(byId)
      .filter((r) => r.nearestLabel !== r.label)
      .map((r) => ({ id: r.id, label: r.label, nearestLabel: r.nearestLabel }));
    const perClass = [...this.perClass.entries()]
      .sort(([a], [b]) => a - b)
      .map(([label, c]): ClassSummary => {
        const s = c.acc.count > 0 ? c.acc.summary({ tau: opts.tau }) : null;
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
    const processed = this.results.length;
    return {
      run,
      images: {
        selected: processed + this.failures.length,
        processed,
        failed: this.failures.length,
        withBox: this.all.count,
      },
      metrics: this.all.count > 0 ? this.all.summary({ tau: opts.tau }) : null,
      perClass,
      audit: {
        lowestEnergyRatio: lowest,
        nearestProxyMismatch: mismatch,
        nearestProxyAccuracy: processed > 0 ? (processed - mismatch.length) / processed : null,
      },
      failures: [...this.failures].sort(byId),
    };
  }
}
