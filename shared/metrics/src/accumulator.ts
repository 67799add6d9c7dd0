import type { AccumulatorState } from './accumulator-state.js';
import { addImage, cloneState, emptyState, mergeState, parseState } from './accumulator-state.js';
import { CENTRED_SIZES } from './baseline-boxes.js';
import type { Counters } from './counters.js';
import { countersToState, stateToCounters } from './counters.js';
import type { ImageMetrics } from './image-metrics.js';
import type { MetricsSummary, SummaryOptions } from './summary.js';
import { summarize } from './summary.js';

export interface AccumulatorOptions {
  /** Must match the `centredSizes` the images were computed with; default {@link CENTRED_SIZES}. */
  centredSizes?: readonly number[];
}

/**
 * Aggregates per-image metrics from counts and sums only, so the result is exact and the same
 * counters can be kept anywhere: merged across workers/classes, stored as JSON, or kept in a
 * Redis hash with {@link MetricsAccumulator.toCounters} field names. Idempotency (counting each
 * image once) is the caller's job: `add` does not know image ids.
 */
export class MetricsAccumulator {
  private state: AccumulatorState;

  constructor(opts: AccumulatorOptions = {}) {
    this.state = emptyState(opts.centredSizes ?? CENTRED_SIZES);
  }

  /** Images added so far. */
  get count(): number {
    return this.state.n;
  }

  get centredSizes(): readonly number[] {
    return this.state.centredSizes;
  }

  add(m: ImageMetrics): this {
    addImage(this.state, m);
    return this;
  }

  merge(other: MetricsAccumulator): this {
    mergeState(this.state, other.state);
    return this;
  }

  /** A deep copy of the counters (safe to mutate, `JSON.stringify` it). */
  toJSON(): AccumulatorState {
    return cloneState(this.state);
  }

  /** Rebuild from {@link toJSON} output; validates the shape and throws RangeError on mismatch. */
  static fromJSON(json: unknown): MetricsAccumulator {
    return MetricsAccumulator.fromState(parseState(json));
  }

  /** Flat fields (see `counters.ts` for the names); dense, zeros included. */
  toCounters(): Counters {
    return stateToCounters(this.state);
  }

  /** Rebuild from flat fields, e.g. a Redis HGETALL reply (string values accepted). */
  static fromCounters(
    rec: Record<string, number | string>,
    opts: AccumulatorOptions = {},
  ): MetricsAccumulator {
    return MetricsAccumulator.fromState(countersToState(rec, opts.centredSizes ?? CENTRED_SIZES));
  }

  summary(opts: SummaryOptions = {}): MetricsSummary {
    return summarize(this.state, opts);
  }

  private static fromState(state: AccumulatorState): MetricsAccumulator {
    const acc = new MetricsAccumulator({ centredSizes: state.centredSizes });
    acc.state = state;
    return acc;
  }
}
