import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Config, loadConfig } from '@embedcam/config';
import { createRedis, deleteKeysWithPrefix } from '@embedcam/queues';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A private deployment for one test: its own queue/key prefix and storage directory. */
export async function pipelineEnv(overrides: Partial<Record<keyof Config, unknown>> = {}) {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'embedcam-store-'));
  const config = {
    ...loadConfig(
      {},
      {
        REDIS_URL: TEST_REDIS_URL,
        EMBEDCAM_PREFIX: prefix,
        STORAGE_URI: dir,
        LOG_LEVEL: 'warn',
        ...overrides,
      },
    ),
    REDIS_URL: TEST_REDIS_URL,
  };
  return {
    config,
    prefix,
    dir,
    /** Deletes every Redis key under the prefix and the storage directory. */
    async cleanup() {
      const r = createRedis(TEST_REDIS_URL);
      await deleteKeysWithPrefix(r, prefix);
      r.disconnect();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
