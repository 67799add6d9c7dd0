export { type ExplainCliOptions, explainCommand } from './commands/explain.js';
export { type ResolvedRedis, resolveRedis } from './embedded-redis.js';
export { formatSummaryTable } from './format-summary.js';
export {
  EMBEDCAM_BIN,
  ServiceChild,
  ServiceLauncher,
  type ServiceLauncherOptions,
  type ServiceName,
  type StartOptions,
  serviceEnv,
} from './service-launcher.js';
