import {
  assembleRunSummary,
  compareIds,
  type FailureRecord,
  type RunSummary,
  type SummaryImage,
} from '@embedcam/explain';
import { MetricsAccumulator } from '@embedcam/metrics';
import { runKeys } from '@embedcam/queues';
import type { Redis } from 'ioredis';
import { type ImageRow, parseRow, toFailureRecord, toSummaryImage } from './rows.js';

/** report.json: the same shape, metrics and ordering as summary.json of `embedcam explain`. */
export type RunReport = RunSummary;

/** A run's counted state, as read from Redis. */
export interface RunState {
  runId: string;
  /** SCARD done when the read started. */
  done: number;
  rows: ImageRow[];
  /** HGETALL counters (all evaluated images). */
  counters: Record<string, string>;
  /** label → HGETALL of the class's counters. */
  classCounters: Map<number, Record<string, string>>;
}

/**
 * Reads everything a report needs. Not one snapshot (the rows are read in HSCAN pages): callers
 * compare `done` before and after (see {@link readStableRunState}) when results may still arrive.
 */
export async function readRunState(redis: Redis, prefix: string, runId: string): Promise<RunState> {
  const k = runKeys(prefix, runId);
  const done = await redis.scard(k.done);
  // HSCAN may return a field twice (while the hash is rehashed): keep one row per id.
  const rows = new Map<string, ImageRow>();
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(k.images, cursor, 'COUNT', 1000);
    cursor = next;
    for (let i = 1; i < flat.length; i += 2) rows.set(flat[i - 1], parseRow(flat[i]));
  } while (cursor !== '0');
  const labels = (await redis.smembers(k.classes)).map(Number).sort((a, b) => a - b);
  const pipe = redis.pipeline().hgetall(k.counters);
  for (const label of labels) pipe.hgetall(k.classCounters(label));
  const res = (await pipe.exec()) ?? [];
  const hashes = res.map(([err, v]) => {
    if (err) throw err;
    return v as Record<string, string>;
  });
  const classCounters = new Map<number, Record<string, string>>();
  labels.forEach((label, i) => {
    classCounters.set(label, hashes[i + 1]);
  });
  return { runId, done, rows: [...rows.values()], counters: hashes[0] ?? {}, classCounters };
}

/** Reads until no result was counted during the read (at most `tries` times). */
export async function readStableRunState(
  redis: Redis,
  prefix: string,
  runId: string,
  tries = 5,
): Promise<RunState> {
  const k = runKeys(prefix, runId);
  let state = await readRunState(redis, prefix, runId);
  for (let i = 1; i < tries; i++) {
    const after = await redis.scard(k.done);
    if (after === state.done && state.rows.length === after) break;
    state = await readRunState(redis, prefix, runId);
  }
  return state;
}

export interface BuildReportOptions {
  /** The report's `run` section (run.json's contents in the pipeline). */
  run: Record<string, unknown>;
  /** τ of GT-known Loc (default 0.2). */
  tau?: number;
  /** Length of the lowest-energy-ratio audit list (default 20, as summary.json). */
  auditSize?: number;
}

/** report.json from a run's counters and rows; shares its assembly with the one-process summary. */
export function buildReport(state: RunState, opts: BuildReportOptions): RunReport {
  const images: SummaryImage[] = [];
  const failures: FailureRecord[] = [];
  for (const row of state.rows) {
    if (row.status === 'ok') images.push(toSummaryImage(row));
    else failures.push(toFailureRecord(row));
  }
  const all = MetricsAccumulator.fromCounters(state.counters);
  const perClass = new Map<number, MetricsAccumulator>();
  for (const [label, rec] of state.classCounters) perClass.set(label, MetricsAccumulator.fromCounters(rec));
  return assembleRunSummary(
    { run: opts.run, images, failures, all, classMetrics: (label) => perClass.get(label) },
    { tau: opts.tau, auditSize: opts.auditSize },
  );
}

export const IMAGES_CSV_COLUMNS = [
  'id',
  'status',
  'label',
  'className',
  'uri',
  'targetLabel',
  'nearestLabel',
  'score',
  'allZero',
  'hasBox',
  'energyRatio',
  'chance',
  'insideOutside',
  'pointing',
  'heatmap',
  'overlay',
  'failureCode',
  'failureMessage',
] as const;

/** A cell a spreadsheet would run as a formula: it starts with =, +, -, @, a tab or a CR. */
const FORMULA_START = /^[=+\-@\t\r]/;
/** A plain number written as text ("-3", "+1.5e-2"): no formula, so it stays as it is. */
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * RFC 4180: quote a field holding a comma, quote, CR or LF; double the quotes inside. Text that a
 * spreadsheet would take for a formula gets a leading single quote first (OWASP's rule against
 * CSV injection); numbers, negative ones included, stay numeric.
 */
export function csvField(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  let s = String(v);
  if (typeof v === 'string' && FORMULA_START.test(s) && !NUMERIC.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * images.csv: a header line, then one row per image (ok and failed) in id order, CRLF line ends.
 * Empty fields are values that do not apply (no box, or a failed image).
 */
export function imagesCsv(rows: readonly ImageRow[]): string {
  const sorted = [...rows].sort((a, b) => compareIds(a.id, b.id));
  const lines = [IMAGES_CSV_COLUMNS.join(',')];
  for (const r of sorted) {
    const rec: Record<(typeof IMAGES_CSV_COLUMNS)[number], string | number | boolean | null | undefined> =
      r.status === 'ok'
        ? {
            id: r.id,
            status: r.status,
            label: r.label,
            className: r.className,
            uri: r.uri,
            targetLabel: r.targetLabel,
            nearestLabel: r.nearestLabel,
            score: r.score,
            allZero: r.allZero,
            hasBox: r.hasBox,
            energyRatio: r.energyRatio,
            chance: r.chance,
            insideOutside: r.insideOutside,
            pointing: r.pointing,
            heatmap: r.heatmap,
            overlay: r.overlay,
            failureCode: undefined,
            failureMessage: undefined,
          }
        : {
            id: r.id,
            status: r.status,
            label: r.label,
            className: undefined,
            uri: r.uri,
            targetLabel: undefined,
            nearestLabel: undefined,
            score: undefined,
            allZero: undefined,
            hasBox: undefined,
            energyRatio: undefined,
            chance: undefined,
            insideOutside: undefined,
            pointing: undefined,
            heatmap: undefined,
            overlay: undefined,
            failureCode: r.code,
            failureMessage: r.message,
          };
    lines.push(IMAGES_CSV_COLUMNS.map((c) => csvField(rec[c])).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}
