export { type ExplainCliOptions, explainCommand } from './commands/explain.js';
export { formatSummaryTable } from './format-summary.js';
