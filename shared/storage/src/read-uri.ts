// Reads one input (an image, a model file) by URI. Inputs come from datasets we do not own, so
// unlike ObjectStore keys, s3 keys here are taken as they are and only need to exist.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { constants as fsConstants } from 'node:fs';
import { open, readlink, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  errorCode,
  ForbiddenInputError,
  InputTooLargeError,
  NotFoundError,
  StorageError,
  UnsupportedUriError,
} from './errors.js';
import { DEFAULT_MAX_READ_BYTES, type InputConfinement, isPrivateAddress } from './input-confinement.js';
import { createS3Client, type S3ConnectionOptions } from './s3-client.js';
import { mapS3Error } from './s3-errors.js';
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
  /**
   * The allowed roots. Given: anything outside them fails with ForbiddenInputError (code
   * `forbidden`) before it is opened, and http(s) to loopback/private addresses is refused unless
   * a root names that host. The services always pass one; without it nothing is confined.
   */
  confine?: InputConfinement;
  /** Larger inputs fail with InputTooLargeError (code `too-large`). Default 256 MiB. */
  maxBytes?: number;
}

/** Redirects followed at most (each hop is checked like the first URL). */
const MAX_REDIRECTS = 5;

// One environment-configured client for the process: readUri runs once per image, and a
// client per call would throw away its connection pool every time.
let envClient: S3Client | undefined;

export async function readUri(uri: string, opts: ReadUriOptions = {}): Promise<Buffer> {
  const fail = (reason: string): never => {
    throw new UnsupportedUriError(uri, reason, ACCEPTED_READ_URIS);
  };
  if (typeof uri !== 'string' || uri.trim() === '') return fail('it is empty');
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_READ_BYTES;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1]?.toLowerCase();

  if (scheme === 's3') {
    const match = /^s3:\/\/([^/]+)\/(.+)$/i.exec(uri);
    if (!match) return fail('s3:// URIs need a bucket and a key');
    try {
      validateBucketName(match[1]);
    } catch (err) {
      return fail((err as Error).message);
    }
    opts.confine?.checkS3(match[1], match[2], uri);
    return readS3(uri, match[1], match[2], opts, maxBytes);
  }
  if (scheme === 'http' || scheme === 'https') {
    return readHttp(uri, opts.timeoutMs ?? 30_000, maxBytes, opts.confine);
  }
  if (scheme === 'file') {
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch (err) {
      return fail((err as Error).message);
    }
    return readLocal(file, uri, maxBytes, opts.confine);
  }
  if (scheme !== undefined) return fail(`the scheme "${scheme}:" is not supported`);
  return readLocal(path.resolve(opts.cwd ?? process.cwd(), uri), uri, maxBytes, opts.confine);
}

async function readLocal(
  file: string,
  uri: string,
  maxBytes: number,
  confine: InputConfinement | undefined,
): Promise<Buffer> {
  // Checked before anything touches the file: outside the roots, existence is never revealed.
  const target = confine ? await confine.checkLocal(file, uri) : file;
  try {
    const info = await stat(target);
    if (info.isDirectory()) {
      throw new NotFoundError(file, 'the local filesystem', { detail: 'it is a directory' });
    }
    if (!info.isFile()) {
      throw new StorageError(`Reading ${file} failed: it is not a regular file`, { permanent: true });
    }
    if (info.size > maxBytes) throw new InputTooLargeError(uri, `${info.size} bytes`, maxBytes);
    // The confined path has no symbolic links left; O_NOFOLLOW refuses one swapped in since.
    const fh = await open(target, fsConstants.O_RDONLY | (confine ? fsConstants.O_NOFOLLOW : 0));
    try {
      // O_NOFOLLOW guards the last component only; what was really opened is checked again.
      if (confine) {
        const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
        if (opened !== undefined) confine.checkOpened(opened, uri);
      }
      // Counted while reading too, so a file that grew since stat cannot pass the limit.
      const chunks: Buffer[] = [];
      let n = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(Math.min(1 << 20, maxBytes + 1 - n));
        const { bytesRead } = await fh.read(chunk, 0, chunk.length, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > maxBytes) throw new InputTooLargeError(uri, `over ${maxBytes} bytes`, maxBytes);
        chunks.push(chunk.subarray(0, bytesRead));
      }
      return Buffer.concat(chunks, n);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof StorageError) throw err;
    const code = errorCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new NotFoundError(file, 'the local filesystem', {
        cause: err,
        detail: code === 'EISDIR' ? 'it is a directory' : undefined,
      });
    }
    if (code === 'ELOOP' && confine) {
      throw new ForbiddenInputError(uri, 'it was replaced by a symbolic link while being read');
    }
    throw new StorageError(`Reading ${file} failed: ${(err as Error).message}`, {
      cause: err,
      permanent: code === 'EACCES' || code === 'EPERM',
    });
  }
}

async function readS3(
  uri: string,
  bucket: string,
  key: string,
  opts: ReadUriOptions,
  maxBytes: number,
): Promise<Buffer> {
  const owned = !opts.s3Client && opts.s3 ? createS3Client(opts.s3) : undefined;
  if (!opts.s3Client && !owned) envClient ??= createS3Client();
  const client = opts.s3Client ?? owned ?? (envClient as S3Client);
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!res.Body) return Buffer.alloc(0);
    if (res.ContentLength !== undefined && res.ContentLength > maxBytes) {
      (res.Body as { destroy?: () => void }).destroy?.();
      throw new InputTooLargeError(uri, `${res.ContentLength} bytes`, maxBytes);
    }
    const bytes = await res.Body.transformToByteArray();
    if (bytes.byteLength > maxBytes) throw new InputTooLargeError(uri, `${bytes.byteLength} bytes`, maxBytes);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (err) {
    throw mapS3Error('get', key, `s3://${bucket}`, err);
  } finally {
    owned?.destroy();
  }
}

/**
 * A dns lookup that refuses (ForbiddenInputError) a host any of whose addresses is loopback,
 * link-local or private. Used as the connection's own lookup, so the address checked is the one
 * connected to (no second resolution in between).
 */
function guardedLookup(uri: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad) {
        const e = new ForbiddenInputError(
          uri,
          `its host ${hostname} resolves to ${bad.address}, a loopback, link-local or private address; such addresses are read only when an allowed root names that address (e.g. http://127.0.0.1:8080/images)`,
        );
        return callback(e as unknown as NodeJS.ErrnoException, '', 0);
      }
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

// Guarded requests get their own agents, so they never reuse a socket connected without the check.
const guardedAgents = {
  http: new http.Agent({ keepAlive: true }),
  https: new https.Agent({ keepAlive: true }),
};

function get(url: URL, signal: AbortSignal, guard: LookupFunction | undefined): Promise<IncomingMessage> {
  const lib = url.protocol === 'https:' ? https : http;
  const agent = guard ? guardedAgents[url.protocol === 'https:' ? 'https' : 'http'] : undefined;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { signal, ...(guard ? { lookup: guard, agent } : {}) }, resolve);
    req.on('error', reject);
  });
}

async function readHttp(
  uri: string,
  timeoutMs: number,
  maxBytes: number,
  confine: InputConfinement | undefined,
): Promise<Buffer> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    let url = new URL(uri);
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new ForbiddenInputError(uri, `it redirects to ${url.protocol} URL ${url.href}`);
      }
      let guard: LookupFunction | undefined;
      if (confine) {
        const { privateAllowed } = confine.checkHttp(url, hop === 0 ? uri : `${uri} → ${url.href}`);
        if (!privateAllowed) {
          const host = url.hostname.replace(/^\[|\]$/g, '');
          if (isIP(host) !== 0 && isPrivateAddress(host)) {
            throw new ForbiddenInputError(
              uri,
              `${host} is a loopback, link-local or private address; list the URL prefix with that address in EMBEDCAM_ALLOWED_URIS to read from it`,
            );
          }
          guard = guardedLookup(uri);
        }
      }
      const res = await get(url, signal, guard);
      const status = res.statusCode ?? 0;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        res.destroy();
        if (hop >= MAX_REDIRECTS) {
          throw new StorageError(`GET ${uri} failed: more than ${MAX_REDIRECTS} redirects`, {
            permanent: true,
          });
        }
        url = new URL(res.headers.location, url);
        continue;
      }
      if (status === 404 || status === 410) {
        res.destroy();
        throw new NotFoundError(uri, 'HTTP', { detail: `status ${status}` });
      }
      if (status < 200 || status >= 300) {
        res.destroy();
        const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
        throw new StorageError(`GET ${uri} failed with HTTP ${status} ${res.statusMessage ?? ''}`.trimEnd(), {
          permanent,
        });
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.destroy();
        throw new InputTooLargeError(uri, `${declared} bytes (Content-Length)`, maxBytes);
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const chunk of res) {
        n += (chunk as Buffer).length;
        if (n > maxBytes) {
          res.destroy();
          throw new InputTooLargeError(uri, `over ${maxBytes} bytes`, maxBytes);
        }
        chunks.push(chunk as Buffer);
      }
      return Buffer.concat(chunks, n);
    }
  } catch (err) {
    if (err instanceof StorageError) throw err;
    if (signal.aborted) {
      throw new StorageError(`GET ${uri} timed out after ${timeoutMs} ms`, { cause: err });
    }
    throw new StorageError(`GET ${uri} failed: ${(err as Error).message}`, { cause: err });
  }
}
