// Turns a storage URI from config or flags into an ObjectStore, so services take one string
// (`--store s3://bucket/runs` or `--store ./data`) and never construct stores themselves.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { StorageError, UnsupportedUriError } from './errors.js';
import { LocalStore, type LocalStoreOptions } from './local-store.js';
import type { ObjectStore } from './object-store.js';
import type { S3ConnectionOptions } from './s3-client.js';
import { S3Store } from './s3-store.js';
import { validateBucketName } from './validate-bucket.js';
import { validateKey } from './validate-key.js';

export const ACCEPTED_STORE_URIS: readonly string[] = [
  's3://bucket',
  's3://bucket/prefix',
  'file:///absolute/dir',
  '/absolute/dir',
  'relative/dir (resolved against the working directory)',
];

export type ParsedStorageUri =
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'local'; path: string };

export interface ParseOptions {
  /** Base for relative paths (default: process.cwd()). */
  cwd?: string;
}

export interface OpenStoreOptions extends ParseOptions {
  /** Connection settings for s3:// stores (defaults come from the environment). */
  s3?: S3ConnectionOptions & { client?: S3Client };
  local?: LocalStoreOptions;
}

/** Parses a store URI; throws UnsupportedUriError listing the accepted forms. */
export function parseStorageUri(uri: string, opts: ParseOptions = {}): ParsedStorageUri {
  const fail = (reason: string): never => {
    throw new UnsupportedUriError(uri, reason, ACCEPTED_STORE_URIS);
  };
  if (typeof uri !== 'string' || uri.trim() === '') return fail('it is empty');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();

  if (scheme === 's3') {
    const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(uri);
    if (!match?.[1]) return fail('s3:// needs a bucket name');
    const bucket = match[1];
    const prefix = (match[2] ?? '').replace(/\/+$/, '');
    try {
      validateBucketName(bucket);
      if (prefix) validateKey(prefix);
    } catch (err) {
      return fail((err as Error).message);
    }
    return { kind: 's3', bucket, prefix };
  }

  if (scheme === 'file') {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return fail('it is not a valid file:// URL');
    }
    if (url.host !== '' && url.host !== 'localhost')
      return fail(`file:// URLs must be local, not on "${url.host}"`);
    return { kind: 'local', path: path.resolve(fileURLToPath(url)) };
  }

  if (scheme !== undefined) {
    return fail(
      `the scheme "${scheme}:" is not a store (write "./${uri}" for a relative path containing ":")`,
    );
  }
  return { kind: 'local', path: path.resolve(opts.cwd ?? process.cwd(), uri) };
}

/** Opens the store a URI names. Does not touch the network or disk until the first call. */
export function openStore(uri: string, opts: OpenStoreOptions = {}): ObjectStore {
  const parsed = parseStorageUri(uri, opts);
  if (parsed.kind === 'local') return new LocalStore(parsed.path, opts.local);
  if (parsed.kind === 's3') return new S3Store({ ...opts.s3, bucket: parsed.bucket, prefix: parsed.prefix });
  throw new StorageError(`unreachable: ${JSON.stringify(parsed)}`);
}
