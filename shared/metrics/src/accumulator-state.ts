import { CENTRED_SIZES } from './baseline-boxes.js';
import type { ImageMetrics } from './image-metrics.js';
import { DELTAS, TAUS } from './image-metrics.js';

/**
 * The plain counters behind `MetricsAccumulator`: counts and sums only, so that aggregation is
 * exact, order-free for the counts, and can live anywhere (a JSON file, a Redis hash).
 */
export interface AccumulatorState {
  version: 1;
  /** Side fractions of the centred-box baseline the `centred*` arrays are indexed by. */
  centredSizes: number[];
  /** Images added. */
  n: number;
  /** Images whose map was not all zero. */
  nonZero: number;
  energyRatioSum: number;
  /** Images with a defined energy ratio (= nonZero). */
  energyRatioCount: number;
  chanceSum: number;
  insideOutsideSum: number;
  insideOutsideCount: number;
  /** Pointing-game hits. */
  pointing: number;
  /** Image-centre pointing hits (baseline). */
  centrePointing: number;
  /** [δ][τ] hit counts, largest component. */
  largest: number[][];
  /** [δ][τ] hit counts, best-matching component. */
  bestMatch: number[][];
  /** [δ][size] hit counts, centred box. */
  centred: number[][];
  /** [δ] hit counts, whole-image box. */
  uniform: number[];
  /** [size] sums of the centred-box energy ratio. */
  centredEnergySum: number[];
}

const zeros = (k: number): number[] => new Array<number>(k).fill(0);

export function emptyState(centredSizes: readonly number[] = CENTRED_SIZES): AccumulatorState {
  checkSizes(centredSizes);
  const s = centredSizes.length;
  return {
    version: 1,
    centredSizes: [...centredSizes],
    n: 0,
    nonZero: 0,
    energyRatioSum: 0,
    energyRatioCount: 0,
    chanceSum: 0,
    insideOutsideSum: 0,
    insideOutsideCount: 0,
    pointing: 0,
    centrePointing: 0,
    largest: DELTAS.map(() => zeros(TAUS.length)),
    bestMatch: DELTAS.map(() => zeros(TAUS.length)),
    centred: DELTAS.map(() => zeros(s)),
    uniform: zeros(DELTAS.length),
    centredEnergySum: zeros(s),
  };
}

function checkSizes(sizes: readonly number[]): void {
  if (sizes.length === 0 || !sizes.every((s) => Number.isFinite(s) && s > 0 && s <= 1)) {
    throw new RangeError(`centred sizes must be a non-empty list of fractions in (0, 1], got [${sizes}]`);
  }
}

function checkShape(name: string, value: unknown, rows: number, cols: number): void {
  const ok =
    Array.isArray(value) &&
    value.length === rows &&
    value.every((r) => Array.isArray(r) && r.length === cols && r.every((v) => Number.isFinite(v)));
  if (!ok) throw new RangeError(`${name} must be a ${rows}×${cols} array of finite numbers`);
}

function checkVector(name: string, value: unknown, len: number): void {
  if (!Array.isArray(value) || value.length !== len || !value.every((v) => Number.isFinite(v))) {
    throw new RangeError(`${name} must be an array of ${len} finite numbers`);
  }
}

/** Reject per-image metrics whose vectors do not line up with the accumulator's axes. */
export function checkImageMetrics(m: ImageMetrics, centredSizes: readonly number[]): void {
  const D = DELTAS.length;
  checkShape('largestHits', m.largestHits, D, TAUS.length);
  checkShape('bestMatchHits', m.bestMatchHits, D, TAUS.length);
  checkShape(
    `centredHits (accumulator has ${centredSizes.length} centred sizes)`,
    m.centredHits,
    D,
    centredSizes.length,
  );
  checkVector(
    `centredEnergy (accumulator has ${centredSizes.length} centred sizes)`,
    m.centredEnergy,
    centredSizes.length,
  );
  checkVector('uniformHits', m.uniformHits, D);
  if (!Number.isFinite(m.chance)) throw new RangeError('chance must be finite');
  for (const [name, v] of [
    ['energyRatio', m.energyRatio],
    ['insideOutside', m.insideOutside],
  ] as const) {
    if (v !== null && !Number.isFinite(v)) throw new RangeError(`${name} must be finite or null`);
  }
}

function addInto(dst: number[], src: readonly number[]): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

export function addImage(state: AccumulatorState, m: ImageMetrics): void {
  checkImageMetrics(m, state.centredSizes);
  state.n += 1;
  if (!m.zeroMap) state.nonZero += 1;
  if (m.energyRatio !== null) {
    state.energyRatioSum += m.energyRatio;
    state.energyRatioCount += 1;
  }
  state.chanceSum += m.chance;
  if (m.insideOutside !== null) {
    state.insideOutsideSum += m.insideOutside;
    state.insideOutsideCount += 1;
  }
  if (m.pointing) state.pointing += 1;
  if (m.centrePointing) state.centrePointing += 1;
  addHits(state, {
    largest: m.largestHits,
    bestMatch: m.bestMatchHits,
    centred: m.centredHits,
    uniform: m.uniformHits,
    centredEnergySum: m.centredEnergy,
  });
}

type HitArrays = Pick<AccumulatorState, 'largest' | 'bestMatch' | 'centred' | 'uniform' | 'centredEnergySum'>;

/** Adds per-δ hit counts (of one image, or of another accumulator) into the state. */
function addHits(dst: HitArrays, src: HitArrays): void {
  for (let d = 0; d < DELTAS.length; d++) {
    addInto(dst.largest[d], src.largest[d]);
    addInto(dst.bestMatch[d], src.bestMatch[d]);
    addInto(dst.centred[d], src.centred[d]);
  }
  addInto(dst.uniform, src.uniform);
  addInto(dst.centredEnergySum, src.centredEnergySum);
}

export function mergeState(dst: AccumulatorState, src: AccumulatorState): void {
  if (
    dst.centredSizes.length !== src.centredSizes.length ||
    dst.centredSizes.some((s, i) => s !== src.centredSizes[i])
  ) {
    throw new RangeError(
      `cannot merge accumulators with different centred sizes: [${dst.centredSizes}] vs [${src.centredSizes}]`,
    );
  }
  dst.n += src.n;
  dst.nonZero += src.nonZero;
  dst.energyRatioSum += src.energyRatioSum;
  dst.energyRatioCount += src.energyRatioCount;
  dst.chanceSum += src.chanceSum;
  dst.insideOutsideSum += src.insideOutsideSum;
  dst.insideOutsideCount += src.insideOutsideCount;
  dst.pointing += src.pointing;
  dst.centrePointing += src.centrePointing;
  addHits(dst, src);
}

/** Validate untrusted JSON (a stored report, a message) as an accumulator state; returns a copy. */
export function parseState(json: unknown): AccumulatorState {
  if (typeof json !== 'object' || json === null) throw new RangeError('accumulator state must be an object');
  const o = json as Record<string, unknown>;
  if (o.version !== 1) throw new RangeError(`unsupported accumulator state version ${String(o.version)}`);
  checkVector('centredSizes', o.centredSizes, Array.isArray(o.centredSizes) ? o.centredSizes.length : -1);
  const sizes = o.centredSizes as number[];
  const state = emptyState(sizes);
  for (const key of [
    'n',
    'nonZero',
    'energyRatioSum',
    'energyRatioCount',
    'chanceSum',
    'insideOutsideSum',
    'insideOutsideCount',
    'pointing',
    'centrePointing',
  ] as const) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${key} must be a finite number`);
    state[key] = v;
  }
  const D = DELTAS.length;
  checkShape('largest', o.largest, D, TAUS.length);
  checkShape('bestMatch', o.bestMatch, D, TAUS.length);
  checkShape('centred', o.centred, D, sizes.length);
  checkVector('uniform', o.uniform, D);
  checkVector('centredEnergySum', o.centredEnergySum, sizes.length);
  state.largest = (o.largest as number[][]).map((r) => [...r]);
  state.bestMatch = (o.bestMatch as number[][]).map((r) => [...r]);
  state.centred = (o.centred as number[][]).map((r) => [...r]);
  state.uniform = [...(o.uniform as number[])];
  state.centredEnergySum = [...(o.centredEnergySum as number[])];
  return state;
}

export function cloneState(s: AccumulatorState): AccumulatorState {
  return parseState(s);
}
