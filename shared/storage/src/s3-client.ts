// Builds the S3Client every S3 code path shares, so AWS, MinIO and s3rver are configured the
// same way: explicit options first, then the usual environment variables.
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { StorageError } from './errors.js';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How to reach an S3 API. Every field is optional; see resolveS3ClientConfig for defaults. */
export interface S3ConnectionOptions {
  /** Custom endpoint for MinIO or any S3 API (env `S3_ENDPOINT`); unset means AWS. */
  endpoint?: string;
  /** Env `AWS_REGION` / `AWS_DEFAULT_REGION`; `us-east-1` when a custom endpoint is set. */
  region?: string;
  /** Path-style URLs (env `S3_FORCE_PATH_STYLE`); defaults to true with a custom endpoint. */
  forcePathStyle?: boolean;
  /** Static credentials; unset means the SDK's chain (AWS_ACCESS_KEY_ID/…, profiles, roles). */
  credentials?: S3Credentials;
  /**
   * Integrity checksums on every request (`when-supported`, the SDK default against AWS) or only
   * where the API demands them (`when-required`, the default with a custom endpoint, because
   * several S3 clones reject or mishandle the newer CRC headers).
   */
  checksums?: 'when-supported' | 'when-required';
  /** SDK retry attempts (default 3). */
  maxAttempts?: number;
}

type Env = Record<string, string | undefined>;

/** Turns options + environment into an S3ClientConfig; throws a clear error on bad env values. */
export function resolveS3ClientConfig(
  opts: S3ConnectionOptions = {},
  env: Env = process.env,
): S3ClientConfig {
  const endpoint = opts.endpoint ?? (env.S3_ENDPOINT?.trim() || undefined);
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw new StorageError(
      `S3 endpoint must start with http:// or https://, got ${JSON.stringify(endpoint)}`,
      {
        permanent: true,
      },
    );
  }
  const forcePathStyle =
    opts.forcePathStyle ??
    parseBool('S3_FORCE_PATH_STYLE', env.S3_FORCE_PATH_STYLE) ??
    endpoint !== undefined;
  const region =
    opts.region ??
    (env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || (endpoint ? 'us-east-1' : undefined));
  const checksums = opts.checksums ?? (endpoint ? 'when-required' : 'when-supported');
  const mode = checksums === 'when-required' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED';
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
    forcePathStyle,
    requestChecksumCalculation: mode,
    responseChecksumValidation: mode,
  };
}

export function createS3Client(opts: S3ConnectionOptions = {}, env: Env = process.env): S3Client {
  return new S3Client(resolveS3ClientConfig(opts, env));
}

function parseBool(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new StorageError(`${name} must be true or false, got ${JSON.stringify(value)}`, { permanent: true });
}
