import { loadConfig } from '@embedcam/config';
import { createLogger } from '@embedcam/queues';
import { startProxyBuilder } from './proxy-builder.js';

const config = loadConfig();
const log = createLogger('proxy-builder', config.LOG_LEVEL);
if (!config.REDIS_URL) {
  log.error('REDIS_URL is not set: services need a Redis (e.g. REDIS_URL=redis://127.0.0.1:6379).');
  process.exit(2);
}
const handle = await startProxyBuilder({ ...config, REDIS_URL: config.REDIS_URL }, { log });
let stopping = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal: sig }, 'finishing the current job, then exiting');
    handle.close().then(() => process.exit(0));
  });
}
