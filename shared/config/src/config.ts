import os from 'node:os';
import { formatSettingIssues } from '@embedcam/validation';
import { z } from 'zod';
import { absoluteStoreUri, defaultStoreDir } from './home.js';

const intFrom = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be an integer` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be ≥ ${min}`)
    .max(max, `${name} must be ≤ ${max}`);

/**
 * Every setting the services read, from the environment (and CLI flags, passed as overrides),
 * parsed once. Names are the environment variables; flags map onto them.
 */
export const configSchema = z.object({
  /** redis://host:port/db — unset: 127.0.0.1:6379 if it answers, else a private redis-server (CLI only). */
  REDIS_URL: z
    .string()
    .regex(
      /^rediss?:\/\/[^\s]+$/,
      'REDIS_URL must look like redis://host:6379 or rediss://user:pass@host:6380/0',
    )
    .optional(),
  /**
   * How long a CLI command waits for Redis to answer before it fails with one line naming the URL
   * (services keep retrying instead).
   */
  REDIS_CONNECT_TIMEOUT_MS: intFrom('REDIS_CONNECT_TIMEOUT_MS', 100, 600_000).default(10_000),
  /** BullMQ key prefix and the prefix of embedcam's own Redis keys, so deployments (and tests) can share a Redis. */
  EMBEDCAM_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'EMBEDCAM_PREFIX must be 1–40 letters, digits, _ or -')
    .default('embedcam'),
  /**
   * Where proxies, heatmaps and reports go: s3://bucket/prefix or a local directory (made absolute;
   * unset: `<EMBEDCAM_HOME>/store`, filled in by loadConfig).
   */
  STORAGE_URI: z
    .string()
    .min(1, 'STORAGE_URI must be s3://bucket[/prefix] or a directory')
    .transform(absoluteStoreUri),
  WORKER_CONCURRENCY: intFrom('WORKER_CONCURRENCY', 1, 1024).default(32),
  BATCH_MAX_SIZE: intFrom('BATCH_MAX_SIZE', 1, 256).default(16),
  BATCH_MAX_WAIT_MS: intFrom('BATCH_MAX_WAIT_MS', 0, 60_000).default(25),
  /** Compute threads per worker process; the WebAssembly backend is single-threaded, so one per core. */
  COMPUTE_THREADS: intFrom('COMPUTE_THREADS', 1, 256).default(Math.max(1, os.availableParallelism())),
  /** Attempts for transient failures (network, storage), with exponential backoff. */
  JOB_ATTEMPTS: intFrom('JOB_ATTEMPTS', 1, 100).default(5),
  /**
   * BullMQ job lock: a dead process's jobs are retried after about lock + stalled interval. The event
   * loop stays free under load (compute runs on threads), so the lock is always renewed in time.
   */
  JOB_LOCK_MS: intFrom('JOB_LOCK_MS', 1000, 3_600_000).default(30_000),
  STALLED_INTERVAL_MS: intFrom('STALLED_INTERVAL_MS', 100, 3_600_000).default(30_000),
  /**
   * A run whose counted images have not changed for this long is reported `stalled` (0: never for
   * this reason alone); a run queued behind another that is progressing is not.
   */
  RUN_STALL_TIMEOUT_MS: intFrom('RUN_STALL_TIMEOUT_MS', 0, 7 * 24 * 3_600_000).default(600_000),
  /** A run with no worker on the heatmaps queue, or no aggregator on the results queue, for this long is `stalled`. */
  RUN_NO_WORKER_GRACE_MS: intFrom('RUN_NO_WORKER_GRACE_MS', 0, 3_600_000).default(60_000),
  /** A run none of whose jobs is waiting, delayed or active, with no progress for this long, is `stalled`. */
  RUN_IDLE_GRACE_MS: intFrom('RUN_IDLE_GRACE_MS', 0, 3_600_000).default(15_000),
  /** How long SIGTERM waits for a worker's in-flight jobs before handing them back to the queue. */
  WORKER_SHUTDOWN_TIMEOUT_MS: intFrom('WORKER_SHUTDOWN_TIMEOUT_MS', 0, 3_600_000).default(25_000),
  /**
   * Decoded pixels a worker holds at once across its compute threads: images beyond it wait, so a
   * burst of huge images cannot multiply memory. The default equals the per-image limit (100 MP):
   * any valid image can run, alone if need be, and a batch of ordinary photos is never held up.
   */
  WORKER_PIXEL_BUDGET: intFrom('WORKER_PIXEL_BUDGET', 1_000_000, 100_000_000_000).default(100_000_000),
  /** Reference images per proxy-builder shard. */
  PROXY_SHARD_SIZE: intFrom('PROXY_SHARD_SIZE', 1, 100_000).default(256),
  /**
   * Input roots the workers may read besides the dataset's own directory and the store: a
   * comma-separated list of absolute paths, file:// URLs, s3://bucket[/prefix] and
   * http(s)://host[/path] prefixes. Everything else fails its image with code `forbidden`.
   */
  EMBEDCAM_ALLOWED_URIS: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s !== ''))
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(\/|file:\/\/\/|s3:\/\/[a-z0-9][a-z0-9.-]*(\/|$)|https?:\/\/[^/\s]+(\/|$))\S*$/i,
            'EMBEDCAM_ALLOWED_URIS must be comma-separated absolute paths, file:///…, s3://bucket[/prefix] or http(s)://host[/path] prefixes',
          ),
      ),
    )
    .default([]),
  /** Inputs larger than this fail with code `too-large` (local files, HTTP bodies, S3 objects). */
  EMBEDCAM_MAX_READ_BYTES: intFrom('EMBEDCAM_MAX_READ_BYTES', 1, Number.MAX_SAFE_INTEGER).default(
    256 * 1024 * 1024,
  ),
  EMBEDCAM_ENGINE: z.enum(['tfjs', 'onnx'], { error: 'EMBEDCAM_ENGINE must be tfjs or onnx' }).optional(),
  EMBEDCAM_TF_BACKEND: z
    .enum(['auto', 'tensorflow', 'wasm', 'cpu'], {
      error: 'EMBEDCAM_TF_BACKEND must be auto, tensorflow, wasm or cpu',
    })
    .optional(),
  LOG_LEVEL: z
    .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
      error: 'LOG_LEVEL must be trace, debug, info, warn, error, fatal or silent',
    })
    .default('info'),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the configuration once at start-up. `overrides` (from CLI flags) win over the environment;
 * empty strings count as unset; an unset STORAGE_URI is `<EMBEDCAM_HOME>/store`. A wrong value stops start-up with a message naming the variable.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof Config, unknown>> = {},
): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = overrides[key as keyof Config] ?? env[key];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  raw.STORAGE_URI ??= defaultStoreDir(env);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(formatSettingIssues(parsed.error, raw));
  }
  return parsed.data;
}
