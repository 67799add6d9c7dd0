export type { AccumulatorOptions } from './accumulator.js';
export { MetricsAccumulator } from './accumulator.js';
export type { AccumulatorState } from './accumulator-state.js';
export { CENTRED_SIZES, centredBox, wholeImageBox } from './baseline-boxes.js';
export type { Box } from './box.js';
export {
  BOX_TOLERANCE_FRACTION,
  BOX_TOLERANCE_PX,
  BoxError,
  boxArea,
  boxContains,
  intersectionArea,
  iou,
  scaleBox,
  validateBox,
} from './box.js';
export type { Component } from './components.js';
export { componentBoxes } from './components.js';
export type { Counters } from './counters.js';
export { imageCounters, isFloatCounter } from './counters.js';
export type { Heatmap, NormalizedMap } from './heatmap-ops.js';
export { normalizeMinMax, upsampleBilinear, upsampleNormalized } from './heatmap-ops.js';
export type { Delta, ImageMetrics, ImageMetricsOptions } from './image-metrics.js';
export { computeImageMetrics, DELTA_05, DELTAS, IOU_EPSILON, TAUS } from './image-metrics.js';
export type { AccuracyAt, MetricsSummary, SummaryOptions } from './summary.js';
export { tauIndex } from './summary.js';
export type { SweepResult } from './threshold-sweep.js';
export { sweepThresholds } from './threshold-sweep.js';
