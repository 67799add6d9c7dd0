import { type Config, loadConfig } from '@embedcam/config';
import { waitForRedis } from '@embedcam/queues';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { type ResolvedRedis, resolveRedis } from '../embedded-redis.js';
import { parsePositiveInt } from './options.js';

export interface ConnectionFlags {
  redisUrl?: string;
  redisTimeout?: number;
  storage?: string;
  prefix?: string;
  /** --allow (run): input roots added to EMBEDCAM_ALLOWED_URIS, for the local services too. */
  allow?: string[];
}

/** Flags every pipeline command shares; they override the environment variables they name. */
export function addConnectionFlags(cmd: Command): Command {
  return cmd
    .option('--redis-url <url>', 'Redis (env REDIS_URL; default 127.0.0.1:6379 or a private redis-server)')
    .option(
      '--redis-timeout <ms>',
      'fail when Redis does not answer within this time (env REDIS_CONNECT_TIMEOUT_MS; default 10000)',
      (v) => parsePositiveInt('--redis-timeout', v),
    )
    .option('--storage <uri>', 'object store: s3://bucket/prefix or a directory (env STORAGE_URI)')
    .option('--prefix <name>', 'queue/key prefix of this deployment (env EMBEDCAM_PREFIX)');
}

export function configFrom(
  flags: ConnectionFlags,
  extra: Partial<Record<keyof Config, unknown>> = {},
): Config {
  const allowed = flags.allow?.length
    ? [...loadConfig(process.env).EMBEDCAM_ALLOWED_URIS, ...flags.allow]
    : undefined;
  return loadConfig(process.env, {
    REDIS_URL: flags.redisUrl,
    REDIS_CONNECT_TIMEOUT_MS: flags.redisTimeout,
    STORAGE_URI: flags.storage,
    EMBEDCAM_PREFIX: flags.prefix,
    EMBEDCAM_ALLOWED_URIS: allowed,
    ...extra,
  });
}

export type ConnectedConfig = Config & { REDIS_URL: string };

/**
 * Config with a Redis that answers (see resolveRedis); call `redis.stop()` when done. A configured
 * REDIS_URL (or --redis-url) that does not answer within REDIS_CONNECT_TIMEOUT_MS throws
 * RedisUnreachableError; it never falls back to another Redis.
 */
export async function connect(
  flags: ConnectionFlags,
  log: Logger,
  extra: Partial<Record<keyof Config, unknown>> = {},
): Promise<{ config: ConnectedConfig; redis: ResolvedRedis }> {
  const config = configFrom(flags, extra);
  const redis = await resolveRedis(config.REDIS_URL, log);
  if (redis.source === 'configured') await waitForRedis(redis.url, config.REDIS_CONNECT_TIMEOUT_MS);
  return { config: { ...config, REDIS_URL: redis.url }, redis };
}
