import { ConfigError } from '@embedcam/config';
import { formatSettingIssues } from '@embedcam/validation';
import { z } from 'zod';
import type { AggregatorOptions } from './aggregator.js';

const ms = (name: string, min: number) =>
  z.coerce
    .number({ error: `${name} must be a number of milliseconds` })
    .int(`${name} must be an integer`)
    .min(min, `${name} must be ≥ ${min}`)
    .optional();

/** Aggregator-only settings (the shared ones come from @embedcam/config). */
export const aggregatorEnvSchema = z.object({
  AGGREGATOR_CONCURRENCY: z.coerce
    .number({ error: 'AGGREGATOR_CONCURRENCY must be an integer' })
    .int('AGGREGATOR_CONCURRENCY must be an integer')
    .min(1, 'AGGREGATOR_CONCURRENCY must be ≥ 1')
    .max(1024, 'AGGREGATOR_CONCURRENCY must be ≤ 1024')
    .optional(),
  /** How often runs are checked for a missing report (0: only on results). */
  AGGREGATOR_SWEEP_MS: ms('AGGREGATOR_SWEEP_MS', 0),
  /** BullMQ job lock: how soon a dead aggregator's jobs are retried. */
  AGGREGATOR_LOCK_MS: ms('AGGREGATOR_LOCK_MS', 1000),
  AGGREGATOR_STALLED_MS: ms('AGGREGATOR_STALLED_MS', 100),
});

/** Reads the AGGREGATOR_* variables; throws one message naming every bad one. */
export function loadAggregatorOptions(env: NodeJS.ProcessEnv = process.env): AggregatorOptions {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(aggregatorEnvSchema.shape)) {
    if (env[key] !== undefined && env[key] !== '') raw[key] = env[key];
  }
  const r = aggregatorEnvSchema.safeParse(raw);
  if (!r.success) {
    throw new ConfigError(formatSettingIssues(r.error, raw));
  }
  const e = r.data;
  return {
    concurrency: e.AGGREGATOR_CONCURRENCY,
    sweepIntervalMs: e.AGGREGATOR_SWEEP_MS,
    lockDurationMs: e.AGGREGATOR_LOCK_MS,
    stalledIntervalMs: e.AGGREGATOR_STALLED_MS,
  };
}
