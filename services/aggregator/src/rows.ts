import type { FailureRecord, SummaryImage } from '@embedcam/explain';
import { formatIssues } from '@embedcam/validation';
import { z } from 'zod';

/**
 * One image's compact row, kept in the run's `images` hash (imageId → JSON): everything
 * images.csv and the report's audit lists need, without the hit vectors.
 */
export interface OkRow {
  id: string;
  status: 'ok';
  uri: string;
  label: number;
  className?: string;
  targetLabel: number;
  nearestLabel: number;
  score: number;
  allZero: boolean;
  /** The image had a box, so it has metrics and counts towards `withBox`. */
  hasBox: boolean;
  energyRatio: number | null;
  chance: number | null;
  insideOutside: number | null;
  pointing: boolean | null;
  heatmap?: string;
  overlay?: string;
}

export interface FailedRow extends FailureRecord {
  status: 'failed';
}

export type ImageRow = OkRow | FailedRow;

const num = z.number().refine(Number.isFinite, 'must be a finite number');
const hits = z.array(z.number());

/** The parts of an ImageResult the aggregator relies on (the counters validate the hit shapes). */
export const imageResultSchema = z.object({
  id: z.string().min(1),
  uri: z.string(),
  label: z.number().int(),
  className: z.string().optional(),
  targetLabel: z.number().int(),
  score: num,
  nearestLabel: z.number().int(),
  allZero: z.boolean(),
  metrics: z
    .object({
      energyRatio: num.nullable(),
      chance: num,
      insideOutside: num.nullable(),
      pointing: z.boolean(),
      zeroMap: z.boolean(),
      largestHits: z.array(hits),
      bestMatchHits: z.array(hits),
      centredHits: z.array(hits),
      centredEnergy: hits,
      uniformHits: hits,
      centrePointing: z.boolean(),
    })
    .nullable(),
  heatmap: z.string().optional(),
  overlay: z.string().optional(),
});

export type ParsedImageResult = z.output<typeof imageResultSchema>;

/** Parses an ImageResult JSON; throws with the offending fields named. */
export function parseImageResult(bytes: Buffer | string): ParsedImageResult {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch (err) {
    throw new Error(`not JSON (${(err as Error).message})`);
  }
  const r = imageResultSchema.safeParse(json);
  if (!r.success) {
    throw new Error(formatIssues(r.error));
  }
  return r.data;
}

export function okRow(r: ParsedImageResult): OkRow {
  const m = r.metrics;
  const row: OkRow = {
    id: r.id,
    status: 'ok',
    uri: r.uri,
    label: r.label,
    className: r.className,
    targetLabel: r.targetLabel,
    nearestLabel: r.nearestLabel,
    score: r.score,
    allZero: r.allZero,
    hasBox: m !== null,
    energyRatio: m?.energyRatio ?? null,
    chance: m?.chance ?? null,
    insideOutside: m?.insideOutside ?? null,
    pointing: m ? m.pointing : null,
  };
  if (r.heatmap !== undefined) row.heatmap = r.heatmap;
  if (r.overlay !== undefined) row.overlay = r.overlay;
  return row;
}

export function failedRow(f: FailureRecord): FailedRow {
  const row: FailedRow = {
    id: f.id,
    status: 'failed',
    uri: f.uri,
    label: f.label,
    code: f.code,
    message: f.message,
  };
  // Only transient failures are marked: a permanent one reads as before.
  if (f.transient === true) row.transient = true;
  return row;
}

/** Parses a stored row; throws for anything that is not one. */
export function parseRow(json: string): ImageRow {
  const row = JSON.parse(json) as ImageRow;
  if (!row || typeof row.id !== 'string' || (row.status !== 'ok' && row.status !== 'failed')) {
    throw new Error(`not an image row: ${json.slice(0, 200)}`);
  }
  return row;
}

export function toSummaryImage(r: OkRow): SummaryImage {
  return {
    id: r.id,
    label: r.label,
    className: r.className,
    nearestLabel: r.nearestLabel,
    metrics: r.hasBox ? { energyRatio: r.energyRatio, chance: r.chance ?? 0 } : null,
  };
}

export function toFailureRecord(r: FailedRow): FailureRecord {
  const f: FailureRecord = { id: r.id, uri: r.uri, label: r.label, code: r.code, message: r.message };
  if (r.transient === true) f.transient = true;
  return f;
}
