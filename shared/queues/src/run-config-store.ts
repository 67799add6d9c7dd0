import type { ObjectStore } from '@embedcam/storage';
import { formatIssues } from '@embedcam/validation';
import { storageKeys } from './names.js';
import { type RunConfig, runConfigSchema } from './schemas.js';

export type RunConfigRead =
  | { ok: true; key: string; config: RunConfig }
  | { ok: false; key: string; problem: 'missing' | 'invalid'; message: string };

/**
 * Reads and validates `runs/<id>/run.json`, the one reader for every service. It says what is
 * wrong instead of throwing, because callers differ: the worker retries a missing file (the
 * submitter may still be writing it) and fails an invalid one, while the aggregator still writes
 * a report with the problem named in it. Store errors (network, permissions) do throw.
 */
export async function readRunConfig(
  store: Pick<ObjectStore, 'getOrNull' | 'uri'>,
  runId: string,
): Promise<RunConfigRead> {
  const key = storageKeys.runConfig(runId);
  const bytes = await store.getOrNull(key);
  if (!bytes)
    return {
      ok: false,
      key,
      problem: 'missing',
      message: `Run ${runId} has no configuration at ${key} in ${store.uri}`,
    };
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return {
      ok: false,
      key,
      problem: 'invalid',
      message: `${key} is not valid JSON (${(err as Error).message})`,
    };
  }
  const parsed = runConfigSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      key,
      problem: 'invalid',
      message: `${key} is not a valid run configuration: ${formatIssues(parsed.error)}`,
    };
  return { ok: true, key, config: parsed.data };
}
