import { PoolStartError } from '@embedcam/compute';
import type { DatasetItem } from '@embedcam/datasets';
import { toFailure } from '@embedcam/explain';
import { isPermanent } from '@embedcam/queues';

/** A failure with a machine-readable code, as result jobs and reports carry it. */
export class JobFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** true: fail the job now; false: retry, and report `code` if the last attempt fails too. */
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'JobFailure';
  }
}

const MAX_MESSAGE = 2000;

/**
 * The code and message a failed image is reported with. Codes follow toFailure of
 * @embedcam/explain (corrupt, unsupported, too-large, empty, not-found, bad-box, unknown-class…),
 * plus the worker's own (bad-payload, bad-uri, bad-model, model-mismatch, run-not-found,
 * proxies-not-found, bad-run-config, bad-proxies) and `error` for anything else.
 */
export function failureOf(item: DatasetItem, err: unknown): { code: string; message: string } {
  const e = err as Error & { code?: unknown };
  let code: string;
  let message: string;
  if (err instanceof JobFailure || err instanceof PoolStartError) {
    code = err.code;
    message = err.message;
  } else if (e?.name === 'UnsupportedUriError') {
    code = 'bad-uri';
    message = `Image ${item.id}: ${e.message}`;
  } else if (e?.name === 'NotFoundError') {
    code = 'not-found';
    message = `Image ${item.id} (${item.uri}): ${e.message}; fix its path or URI`;
  } else {
    const f = toFailure(item, err);
    code = f.code;
    message = f.message;
  }
  if (typeof message !== 'string' || message === '') message = String(err);
  return { code, message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message };
}

/**
 * Ends a job handed back to the queue at shutdown: neither the image's success nor its failure, so
 * nothing is published and nothing counted; another worker takes the job.
 */
export class HandedBack extends Error {
  constructor() {
    super('The worker is shutting down; the job was handed back to the queue.');
    this.name = 'HandedBack';
  }
}

/** Retrying cannot help: the job fails at once with its reason. */
export function isPermanentFailure(err: unknown): boolean {
  if (err instanceof JobFailure) return err.permanent;
  return isPermanent(err);
}
