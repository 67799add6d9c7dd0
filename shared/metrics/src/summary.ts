import type { AccumulatorState } from './accumulator-state.js';
import type { Delta } from './image-metrics.js';
import { DELTA_05, DELTAS, TAUS } from './image-metrics.js';

/** An accuracy at the threshold that gives it (the lowest such τ on ties). */
export interface AccuracyAt {
  value: number;
  tau: number;
}

export interface SummaryOptions {
  /** τ of GT-known Loc; one of {@link TAUS}. Default 0.2. */
  tau?: number;
}

/**
 * A run's (or a class's) metrics. Rates are fractions of `images` and all images count in the
 * denominator (all-zero maps are misses); with no images every rate is 0 and every mean null.
 */
export interface MetricsSummary {
  images: number;
  zeroMaps: number;
  /** Mean energy ratio over images with a non-zero map; null when there are none. */
  meanEnergyRatio: number | null;
  /** Mean chance level (box area / image area) over all images. */
  meanChance: number | null;
  /** Mean inside/outside ratio over the images where it is defined. */
  meanInsideOutside: number | null;
  /** Largest component, δ = 0.5, at the fixed τ. */
  gtKnownLoc: AccuracyAt;
  /** Largest component, δ = 0.5, best τ. */
  maxBoxAcc: AccuracyAt;
  /** Mean over δ of the best-τ accuracy with the best-matching component. */
  maxBoxAccV2: { value: number; perDelta: Record<`${Delta}`, AccuracyAt> };
  pointingGame: number;
  /** Accuracy at each τ of {@link TAUS} (same index), largest component, δ = 0.5. */
  tauCurve: number[];
  baselines: {
    centredBox: {
      /** Side fraction with the best δ = 0.5 accuracy (the smallest on ties). */
      bestSize: number;
      acc: number;
      /** Mean over δ of the best-size accuracy, each δ choosing its own size (as MaxBoxAccV2 does τ). */
      accV2: number;
      /** Mean centred-box energy ratio at `bestSize`. */
      energyRatio: number | null;
    };
    uniform: { energyRatio: number | null; acc: number; accV2: number; pointing: number };
  };
}

/** Index of the maximum, the first one on ties. */
function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Index of τ in TAUS; throws for a τ that is not on the grid. */
export function tauIndex(tau: number): number {
  const i = Math.round(tau * 100);
  if (!(i >= 0 && i < TAUS.length) || Math.abs(TAUS[i] - tau) > 1e-9) {
    throw new RangeError(`τ must be one of 0, 0.01, …, 0.99, got ${tau}`);
  }
  return i;
}

export function summarize(s: AccumulatorState, opts: SummaryOptions = {}): MetricsSummary {
  const ti = tauIndex(opts.tau ?? 0.2);
  const n = s.n;
  const rate = (count: number) => (n > 0 ? count / n : 0);
  const mean = (sum: number, count: number) => (count > 0 ? sum / count : null);

  const bestOverTau = (row: readonly number[]): AccuracyAt => {
    const i = argmax(row);
    return { value: rate(row[i]), tau: TAUS[i] };
  };
  const perDelta = {} as Record<`${Delta}`, AccuracyAt>;
  DELTAS.forEach((d, di) => {
    perDelta[`${d}`] = bestOverTau(s.bestMatch[di]);
  });
  const v2 = Object.values(perDelta).reduce((acc, a) => acc + a.value, 0) / DELTAS.length;

  const sizeIdx = argmax(s.centred[DELTA_05]);
  const centredV2 = s.centred.reduce((acc, row) => acc + rate(row[argmax(row)]), 0) / DELTAS.length;
  const meanChance = mean(s.chanceSum, n);

  return {
    images: n,
    zeroMaps: n - s.nonZero,
    meanEnergyRatio: mean(s.energyRatioSum, s.energyRatioCount),
    meanChance,
    meanInsideOutside: mean(s.insideOutsideSum, s.insideOutsideCount),
    gtKnownLoc: { value: rate(s.largest[DELTA_05][ti]), tau: TAUS[ti] },
    maxBoxAcc: bestOverTau(s.largest[DELTA_05]),
    maxBoxAccV2: { value: v2, perDelta },
    pointingGame: rate(s.pointing),
    tauCurve: s.largest[DELTA_05].map(rate),
    baselines: {
      centredBox: {
        bestSize: s.centredSizes[sizeIdx],
        acc: rate(s.centred[DELTA_05][sizeIdx]),
        accV2: centredV2,
        energyRatio: mean(s.centredEnergySum[sizeIdx], n),
      },
      uniform: {
        energyRatio: meanChance,
        acc: rate(s.uniform[DELTA_05]),
        accV2: s.uniform.reduce((acc, c) => acc + rate(c), 0) / DELTAS.length,
        pointing: rate(s.centrePointing),
      },
    },
  };
}
