export {
  type Aggregator,
  type AggregatorOptions,
  type AggregatorStats,
  DEFAULT_REDIS_URL,
  startAggregator,
} from './aggregator.js';
export { COUNT_RESULT_LUA, type CountInput, countResult, defineCountCommand } from './count-result.js';
export { aggregatorEnvSchema, loadAggregatorOptions } from './options.js';
export {
  type BuildReportOptions,
  buildReport,
  IMAGES_CSV_COLUMNS,
  imagesCsv,
  type RunReport,
  type RunState,
  readRunState,
  readStableRunState,
} from './report.js';
export type { FailedRow, ImageRow, OkRow } from './rows.js';
