import type { AccumulatorState } from './accumulator-state.js';
import { addImage, emptyState } from './accumulator-state.js';
import { CENTRED_SIZES } from './baseline-boxes.js';
import type { ImageMetrics } from './image-metrics.js';
import { DELTAS, TAUS } from './image-metrics.js';

/**
 * Flat counter fields, for a distributed aggregator that keeps a run's metrics in a Redis hash and
 * adds each image with HINCRBY (counts) / HINCRBYFLOAT (sums, see {@link isFloatCounter}).
 *
 * Field names are stable API — changing one orphans stored runs:
 * - `n`, `nonZero`, `pointing`, `centrePointing`
 * - `energyRatio:sum`, `energyRatio:count`, `chance:sum`, `insideOutside:sum`, `insideOutside:count`
 * - `largest:<δ>:<τ index>`, `bestMatch:<δ>:<τ index>` (δ written as 0.3/0.5/0.7; τ index 0..99 = τ·100)
 * - `centred:<δ>:<size index>`, `centredEnergy:<size index>` (index into the centred sizes)
 * - `uniform:<δ>`
 */
export type Counters = Record<string, number>;

const SCALARS = [
  ['n', 'n'],
  ['nonZero', 'nonZero'],
  ['energyRatio:sum', 'energyRatioSum'],
  ['energyRatio:count', 'energyRatioCount'],
  ['chance:sum', 'chanceSum'],
  ['insideOutside:sum', 'insideOutsideSum'],
  ['insideOutside:count', 'insideOutsideCount'],
  ['pointing', 'pointing'],
  ['centrePointing', 'centrePointing'],
] as const;

const FLOAT_SCALARS = new Set(['energyRatio:sum', 'chance:sum', 'insideOutside:sum']);

/** True for fields holding floating sums (HINCRBYFLOAT); all others are integer counts (HINCRBY). */
export function isFloatCounter(field: string): boolean {
  return FLOAT_SCALARS.has(field) || field.startsWith('centredEnergy:');
}

/** All fields of a state; `sparse` leaves out the zero ones (what one image increments). */
export function stateToCounters(s: AccumulatorState, sparse = false): Counters {
  const out: Counters = {};
  const put = (k: string, v: number) => {
    if (!sparse || v !== 0) out[k] = v;
  };
  for (const [field, key] of SCALARS) put(field, s[key]);
  for (let di = 0; di < DELTAS.length; di++) {
    const d = DELTAS[di];
    for (let ti = 0; ti < TAUS.length; ti++) put(`largest:${d}:${ti}`, s.largest[di][ti]);
    for (let ti = 0; ti < TAUS.length; ti++) put(`bestMatch:${d}:${ti}`, s.bestMatch[di][ti]);
    for (let si = 0; si < s.centredSizes.length; si++) put(`centred:${d}:${si}`, s.centred[di][si]);
    put(`uniform:${d}`, s.uniform[di]);
  }
  for (let si = 0; si < s.centredSizes.length; si++) put(`centredEnergy:${si}`, s.centredEnergySum[si]);
  return out;
}

/** The increments one image adds (non-zero fields only): HINCRBY/HINCRBYFLOAT each of them. */
export function imageCounters(m: ImageMetrics, centredSizes: readonly number[] = CENTRED_SIZES): Counters {
  const s = emptyState(centredSizes);
  addImage(s, m);
  return stateToCounters(s, true);
}

function index(part: string | undefined, len: number, field: string): number {
  const i = Number(part);
  if (part === undefined || !/^\d+$/.test(part) || i >= len) {
    throw new RangeError(`unknown counter field "${field}": index must be an integer in 0..${len - 1}`);
  }
  return i;
}

function delta(part: string | undefined, field: string): number {
  const di = DELTAS.findIndex((d) => String(d) === part);
  if (di < 0) throw new RangeError(`unknown counter field "${field}": δ must be one of ${DELTAS.join(', ')}`);
  return di;
}

/**
 * Rebuild a state from counter fields (e.g. Redis HGETALL, whose values are strings). Missing
 * fields count as 0 (a hash field is only created when first incremented); unknown fields and
 * non-numeric values throw, so a renamed field cannot be silently dropped.
 */
export function countersToState(
  rec: Record<string, number | string>,
  centredSizes: readonly number[] = CENTRED_SIZES,
): AccumulatorState {
  const s = emptyState(centredSizes);
  const scalar = new Map<string, (typeof SCALARS)[number][1]>(SCALARS);
  for (const [field, raw] of Object.entries(rec)) {
    const v = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(v)) throw new RangeError(`counter field "${field}" has non-numeric value "${raw}"`);
    const key = scalar.get(field);
    if (key !== undefined) {
      s[key] = v;
      continue;
    }
    const [kind, a, b, extra] = field.split(':');
    if (extra !== undefined) throw new RangeError(`unknown counter field "${field}"`);
    switch (kind) {
      case 'largest':
        s.largest[delta(a, field)][index(b, TAUS.length, field)] = v;
        break;
      case 'bestMatch':
        s.bestMatch[delta(a, field)][index(b, TAUS.length, field)] = v;
        break;
      case 'centred':
        s.centred[delta(a, field)][index(b, s.centredSizes.length, field)] = v;
        break;
      case 'uniform':
        if (b !== undefined) throw new RangeError(`unknown counter field "${field}"`);
        s.uniform[delta(a, field)] = v;
        break;
      case 'centredEnergy':
        if (b !== undefined) throw new RangeError(`unknown counter field "${field}"`);
        s.centredEnergySum[index(a, s.centredSizes.length, field)] = v;
        break;
      default:
        throw new RangeError(`unknown counter field "${field}"`);
    }
  }
  return s;
}
