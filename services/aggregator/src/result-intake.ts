import { imageCounters } from '@embedcam/metrics';
import {
  isPermanent,
  type Logger,
  markProgress,
  parsePayload,
  parseStoredFailure,
  QUEUES,
  type ResultJob,
  resultJobSchema,
  runKeys,
  validateRunId,
} from '@embedcam/queues';
import type { ObjectStore } from '@embedcam/storage';
import { UnrecoverableError } from 'bullmq';
import type { Redis } from 'ioredis';
import { type CountInput, countResult } from './count-result.js';
import { failedRow, okRow, type ParsedImageResult, parseImageResult } from './rows.js';

/** What a result job's attempt is: BullMQ's Job carries more. */
export interface ResultAttempt {
  /** Attempts before this one. */
  attemptsMade: number;
  opts: { attempts?: number };
}

/** The payload of a `results` job; a malformed one fails the job at once (UnrecoverableError). */
export function parseResultJob(data: unknown): ResultJob {
  try {
    const r = parsePayload(resultJobSchema, data, `${QUEUES.results} job`);
    validateRunId(r.runId);
    if (r.imageId === '') throw new Error('Malformed results job payload: imageId is empty');
    return r;
  } catch (err) {
    throw new UnrecoverableError((err as Error).message);
  }
}

/** The count of a valid ImageResult: its row and its metrics' counter increments. */
export function okCountInput(result: ParsedImageResult): CountInput {
  return {
    status: 'ok',
    imageId: result.id,
    label: result.label,
    row: JSON.stringify(okRow(result)),
    counters: result.metrics ? imageCounters(result.metrics) : {},
  };
}

/**
 * What the counting script stores for a result: the worker's failure as it reported it, or the
 * stored ImageResult read and validated. A result object that cannot be used counts as a failure
 * with the reason; one that is not there (yet) throws so the job is retried, until the last
 * attempt, which counts it as `result-missing`. Transient store errors throw (retried).
 */
export async function toCountInput(
  store: Pick<ObjectStore, 'getOrNull' | 'uri'>,
  attempt: ResultAttempt,
  r: ResultJob,
): Promise<CountInput> {
  const failed = (code: string, message: string, transient?: boolean, label = r.label): CountInput => ({
    status: 'failed',
    imageId: r.imageId,
    label,
    // The worker may leave the label out of a failure; -1 marks it unknown.
    row: JSON.stringify(
      failedRow({ id: r.imageId, uri: r.uri ?? '', label: label ?? -1, code, message, transient }),
    ),
  });
  if (r.status === 'failed') {
    const f = r.failure ?? { code: 'unknown', message: 'the worker reported a failure without a reason' };
    return failed(f.code, f.message, r.transient);
  }
  if (!r.key) return failed('invalid-result', 'the result job has status ok but no storage key');
  let bytes: Buffer | null;
  try {
    bytes = await store.getOrNull(r.key);
  } catch (err) {
    if (isPermanent(err)) return failed('invalid-result', `cannot read ${r.key}: ${(err as Error).message}`);
    throw err;
  }
  if (bytes === null) {
    const attempts = attempt.opts.attempts ?? 1;
    const n = attempt.attemptsMade + 1;
    if (n < attempts)
      throw new Error(`result object ${r.key} not found in ${store.uri} (attempt ${n}/${attempts})`);
    return failed(
      'result-missing',
      `result object ${r.key} not found in ${store.uri} after ${attempts} attempt(s)`,
    );
  }
  // A failure the worker stored (announced again by a re-submission after Redis lost the run).
  const stored = parseStoredFailure(bytes);
  if (stored && stored.id === r.imageId)
    return failed(stored.code, stored.message, stored.transient, r.label ?? stored.label);
  try {
    const result = parseImageResult(bytes);
    if (result.id !== r.imageId) throw new Error(`it holds image "${result.id}", not "${r.imageId}"`);
    return okCountInput(result);
  } catch (err) {
    return failed(
      'invalid-result',
      `result object ${r.key} is not a valid image result: ${(err as Error).message}`,
    );
  }
}

export interface ResultIntakeOptions {
  redis: Redis;
  prefix: string;
  store: Pick<ObjectStore, 'getOrNull' | 'uri'>;
  log: Logger;
  /** `counted`: images counted by this intake; `repeats`: results of images counted before. */
  stats: { counted: number; repeats: number };
}

export interface ResultIntake {
  /** Counts one result into its run (exactly once per image); true when counted now, false for a repeat. */
  count(attempt: ResultAttempt, r: ResultJob): Promise<boolean>;
}

export function createResultIntake(o: ResultIntakeOptions): ResultIntake {
  return {
    async count(attempt, r) {
      const input = await toCountInput(o.store, attempt, r);
      const counted = await countResult(o.redis, runKeys(o.prefix, r.runId), input);
      if (counted) {
        o.stats.counted++;
        // The run's progress clock, for stall detection by any client (after the count: a crash
        // between the two only delays the clock, and the next count moves it).
        await markProgress(o.redis, o.prefix, r.runId);
      } else o.stats.repeats++;
      o.log.debug({ runId: r.runId, imageId: r.imageId, status: input.status, counted }, 'result');
      return counted;
    },
  };
}
