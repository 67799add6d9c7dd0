export { type ExplainCliOptions, explainCommand } from './commands/explain.js';
export { type ResolvedRedis, resolveRedis } from './embedded-redis.js';
export { formatSummaryTable } from './format-summary.js';
export { LocalServices, type ServiceName } from './local-services.js';
