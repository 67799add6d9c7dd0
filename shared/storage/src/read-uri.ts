// Reads one input (an image, a model file) by URI. Inputs come from datasets we do not own, so
// unlike ObjectStore keys, s3 keys here are taken as they are and only need to exist.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { errorCode, NotFoundError, StorageError, UnsupportedUriError } from './errors.js';
import { createS3Client, type S3ConnectionOptions } from './s3-client.js';
import { mapS3Error } from './s3-errors.js';
import { s3GetBytes } from './s3-store.js';
import { validateBucketName } from './validate-bucket.js';

export const ACCEPTED_READ_URIS: readonly string[] = [
  's3://bucket/key',
  'file:///absolute/path',
  'https://host/path',
  'http://host/path',
  '/absolute/path',
  'relative/path',
];

export interface ReadUriOptions {
  /** Timeout for http(s) downloads, headers and body together (default 30 s). */
  timeoutMs?: number;
  /** Client for s3:// URIs; otherwise one built from `s3` or, by default, from the environment. */
  s3Client?: S3Client;
  s3?: S3ConnectionOptions;
  /** Base for relative paths (default: process.cwd()). */
  cwd?: string;
}

// One environment-configured client for the process: readUri runs once per image, and a
// client per call would throw away its connection pool every time.
let envClient: S3Client | undefined;

export async function readUri(uri: string, opts: ReadUriOptions = {}): Promise<Buffer> {
  const fail = (reason: string): never => {
    throw new UnsupportedUriError(uri, reason, ACCEPTED_READ_URIS);
  };
  if (typeof uri !== 'string' || uri.trim() === '') return fail('it is empty');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();

  if (scheme === 's3') {
    const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
    if (!match) return fail('s3:// URIs need a bucket and a key');
    try {
      validateBucketName(match[1]);
    } catch (err) {
      return fail((err as Error).message);
    }
    return readS3(match[1], match[2], opts);
  }
  if (scheme === 'http' || scheme === 'https') return readHttp(uri, opts.timeoutMs ?? 30_000);
  if (scheme === 'file') {
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch (err) {
      return fail((err as Error).message);
    }
    return readLocal(file);
  }
  if (scheme !== undefined) return fail(`the scheme "${scheme}:" is not supported`);
  return readLocal(path.resolve(opts.cwd ?? process.cwd(), uri));
}

async function readLocal(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new NotFoundError(file, 'the local filesystem', {
        cause: err,
        detail: code === 'EISDIR' ? 'it is a directory' : undefined,
      });
    }
    throw new StorageError(`Reading ${file} failed: ${(err as Error).message}`, {
      cause: err,
      permanent: code === 'EACCES' || code === 'EPERM',
    });
  }
}

async function readS3(bucket: string, key: string, opts: ReadUriOptions): Promise<Buffer> {
  const owned = !opts.s3Client && opts.s3 ? createS3Client(opts.s3) : undefined;
  if (!opts.s3Client && !owned) envClient ??= createS3Client();
  const client = opts.s3Client ?? owned ?? (envClient as S3Client);
  try {
    return await s3GetBytes(client, bucket, key);
  } catch (err) {
    throw mapS3Error('get', key, `s3://${bucket}`, err);
  } finally {
    owned?.destroy();
  }
}

async function readHttp(uri: string, timeoutMs: number): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(uri, { signal, redirect: 'follow' });
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new NotFoundError(uri, 'HTTP', { detail: `status ${res.status}` });
    }
    if (!res.ok) {
      await res.body?.cancel();
      const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
      throw new StorageError(`GET ${uri} failed with HTTP ${res.status} ${res.statusText}`, { permanent });
    }
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if (signal.aborted) {
      throw new StorageError(`GET ${uri} timed out after ${timeoutMs} ms`, { cause: err });
    }
    throw new StorageError(`GET ${uri} failed: ${(err as Error).message}`, { cause: err });
  }
}
