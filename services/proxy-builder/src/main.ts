// The proxy-builder service: `tsx services/proxy-builder/src/main.ts` (or `embedcam proxy-builder`).
// Settings from the environment (see @embedcam/config); REDIS_URL is required.
import { ConfigError, loadConfig } from '@embedcam/config';
import { createLogger, runService } from '@embedcam/queues';
import { startProxyBuilder } from './proxy-builder.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`embedcam proxy-builder: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}
const log = createLogger('proxy-builder', config.LOG_LEVEL);
if (!config.REDIS_URL) {
  log.error('REDIS_URL is not set: services need a Redis (e.g. REDIS_URL=redis://127.0.0.1:6379).');
  process.exit(2);
}
const handle = await startProxyBuilder({ ...config, REDIS_URL: config.REDIS_URL }, { log });
runService(handle, { name: 'proxy-builder', log });
