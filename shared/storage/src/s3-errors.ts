// Maps AWS SDK errors onto this package's errors, so callers never test SDK error names.
import { NotFoundError, StorageError } from './errors.js';

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** True for a missing key or bucket (HEAD answers a bare 404 named `NotFound`). */
export function isS3NotFound(err: unknown): boolean {
  const e = err as SdkError | undefined;
  if (!e || typeof e !== 'object') return false;
  return (
    e.name === 'NoSuchKey' ||
    e.name === 'NotFound' ||
    e.name === 'NoSuchBucket' ||
    e.$metadata?.httpStatusCode === 404
  );
}

/** Wraps an SDK error with the operation, key and store; 404s become NotFoundError. */
export function mapS3Error(op: string, key: string, storeUri: string, err: unknown): Error {
  if (err instanceof StorageError) return err;
  const e = (err ?? {}) as SdkError;
  if (isS3NotFound(err)) {
    return new NotFoundError(key, storeUri, {
      cause: err,
      detail: e.name === 'NoSuchBucket' ? 'the bucket does not exist' : undefined,
    });
  }
  const status = e.$metadata?.httpStatusCode;
  // 4xx other than throttling/timeouts are caller or permission problems: retrying will not help.
  const permanent = status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
  const what = [e.name, status ? `HTTP ${status}` : undefined].filter(Boolean).join(', ');
  return new StorageError(
    `S3 ${op} ${JSON.stringify(key)} in ${storeUri} failed${what ? ` (${what})` : ''}: ${e.message ?? String(err)}`,
    { cause: err, permanent },
  );
}
