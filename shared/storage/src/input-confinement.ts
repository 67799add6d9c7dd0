// Input confinement: which inputs (image URIs) a worker may read. An input must lie under one of
// the allowed roots — the dataset's own directory, the store, and the prefixes the operator lists
// (EMBEDCAM_ALLOWED_URIS, --allow) — compared on normalized paths and URLs. http(s) inputs must
// also not reach a loopback, link-local or private address unless the root names that address
// explicitly (http://127.0.0.1:8080/images; a name such as localhost is resolved and refused).
import { lstat, realpath } from 'node:fs/promises';
import { BlockList, isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorCode, ForbiddenInputError, NotFoundError, StorageError } from './errors.js';
import { validateBucketName } from './validate-bucket.js';

/** 256 MiB: the default of EMBEDCAM_MAX_READ_BYTES. */
export const DEFAULT_MAX_READ_BYTES = 256 * 1024 * 1024;

export type InputRoot =
  | { kind: 'local'; path: string; source: string }
  | { kind: 's3'; bucket: string; prefix: string; source: string }
  | { kind: 'http'; origin: string; path: string; namesPrivateHost: boolean; source: string };

/**
 * Parses one allowed root: an absolute path, a file:// URL, s3://bucket[/prefix] or
 * http(s)://host[:port][/path]. Throws an Error whose message says what is wrong.
 */
export function parseInputRoot(raw: string, cwd = process.cwd()): InputRoot {
  const source = raw.trim();
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(source)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', path: path.resolve(cwd, source), source };
  if (scheme === 'file') return { kind: 'local', path: path.resolve(fileURLToPath(source)), source };
  if (scheme === 's3') {
    const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/i.exec(source);
    if (!m) throw new Error(`allowed root "${source}": s3:// roots need a bucket (s3://bucket[/prefix])`);
    validateBucketName(m[1]);
    return { kind: 's3', bucket: m[1], prefix: (m[2] ?? '').replace(/\/+$/, ''), source };
  }
  if (scheme === 'http' || scheme === 'https') {
    const url = new URL(source);
    const norm = normalizeHttpUrl(url);
    if (!norm) throw new Error(`allowed root "${source}": encoded slashes are not accepted in a root`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return {
      kind: 'http',
      origin: norm.origin,
      path: norm.path.replace(/\/+$/, ''),
      namesPrivateHost: isIP(host) !== 0 && isPrivateAddress(host),
      source,
    };
  }
  throw new Error(`allowed root "${source}": the scheme "${scheme}:" is not supported`);
}

/** The lexical path, and its real path when it exists. */
interface LocalRoot {
  lexical: string;
  real?: string;
}

const within = (p: string, root: string) =>
  p === root || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);

/** `https://user:pass@host/p` → `https://***@host/p`; anything else as it is. */
export function redactUserinfo(root: string): string {
  return root.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1***@');
}

/** The allowed roots of one dataset/run, with local roots resolved through symbolic links. */
export class InputConfinement {
  private constructor(
    private readonly roots: readonly InputRoot[],
    private readonly local: readonly LocalRoot[],
  ) {}

  /** Parses and resolves the roots (unparseable ones throw; missing local ones are kept as written). */
  static async create(roots: readonly string[], opts: { cwd?: string } = {}): Promise<InputConfinement> {
    const parsed = roots.filter((r) => r.trim() !== '').map((r) => parseInputRoot(r, opts.cwd));
    const local = await Promise.all(
      parsed
        .filter((r): r is Extract<InputRoot, { kind: 'local' }> => r.kind === 'local')
        .map(async (r) => ({ lexical: r.path, real: await realpath(r.path).catch(() => undefined) })),
    );
    return new InputConfinement(parsed, local);
  }

  /** The roots as given, for messages (which land in reports and logs: credentials hidden). */
  describe(): string {
    return this.roots.length === 0 ? 'none' : this.roots.map((r) => redactUserinfo(r.source)).join(', ');
  }

  private forbidden(uri: string, why: string): ForbiddenInputError {
    return new ForbiddenInputError(uri, `${why} (allowed roots: ${this.describe()})`);
  }

  /**
   * Checks a local file before anything opens it; resolves with its real path (the one to open).
   * Outside the roots — lexically, or through a symbolic link — is forbidden whether it exists or
   * not; a missing file inside the roots is NotFoundError.
   */
  async checkLocal(file: string, uri: string): Promise<string> {
    const lexical = path.resolve(file);
    const reals = this.local.flatMap((r) => (r.real ? [r.real] : []));
    const inside = (p: string) =>
      this.local.some((r) => within(p, r.lexical) || (r.real && within(p, r.real)));
    if (!inside(lexical)) throw this.forbidden(uri, 'it is outside the allowed roots');
    const insideReal = (p: string) =>
      reals.some((r) => within(p, r)) || this.local.some((r) => !r.real && within(p, r.lexical));
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (err) {
      const code = errorCode(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') {
        throw new StorageError(`Resolving ${lexical} failed: ${(err as Error).message}`, { cause: err });
      }
      // Missing. Inside the roots only if the deepest existing ancestor (symbolic links included)
      // resolves inside them; a dangling link is refused, so nothing outside is revealed.
      for (let p = lexical; ; p = path.dirname(p)) {
        const st = await lstat(p).catch(() => undefined);
        if (st) {
          const r = await realpath(p).catch(() => undefined);
          if (r === undefined || !insideReal(r))
            throw this.forbidden(uri, 'it leads through a symbolic link outside the allowed roots');
          throw new NotFoundError(lexical, 'the local filesystem', { cause: err });
        }
        if (p === path.dirname(p)) throw this.forbidden(uri, 'it is outside the allowed roots');
      }
    }
    if (!insideReal(real))
      throw this.forbidden(uri, 'it resolves through a symbolic link to a place outside the allowed roots');
    return real;
  }

  /**
   * Checks the file a descriptor really points at (Linux: the /proc/self/fd link), after opening
   * what checkLocal allowed: a parent directory swapped for a symbolic link between the check and
   * the open would otherwise lead outside the roots.
   */
  checkOpened(realPath: string, uri: string): void {
    const inside =
      this.local.some((r) => r.real && within(realPath, r.real)) ||
      this.local.some((r) => !r.real && within(realPath, r.lexical));
    if (!inside)
      throw this.forbidden(uri, 'it was swapped for a path outside the allowed roots while being opened');
  }

  /** Checks an s3 object against the s3 roots (bucket, then key prefix by whole segments). */
  checkS3(bucket: string, key: string, uri: string): void {
    if (key.split('/').some((s) => s === '.' || s === '..') || key.includes('//')) {
      throw this.forbidden(uri, 'its key has "." or ".." segments or an empty segment');
    }
    const ok = this.roots.some(
      (r) =>
        r.kind === 's3' &&
        r.bucket === bucket &&
        (r.prefix === '' || key === r.prefix || key.startsWith(`${r.prefix}/`)),
    );
    if (!ok) throw this.forbidden(uri, 'it is outside the allowed roots');
  }

  /**
   * Checks an http(s) URL against the http roots; returns whether loopback/private addresses are
   * acceptable for it (only when the matching root names such a host explicitly).
   */
  checkHttp(url: URL, uri: string): { privateAllowed: boolean } {
    const norm = normalizeHttpUrl(url);
    if (!norm) throw this.forbidden(uri, 'its path contains an encoded slash or backslash');
    const matching = this.roots.filter(
      (r): r is Extract<InputRoot, { kind: 'http' }> =>
        r.kind === 'http' &&
        r.origin === norm.origin &&
        (r.path === '' || norm.path === r.path || norm.path.startsWith(`${r.path}/`)),
    );
    if (matching.length === 0) throw this.forbidden(uri, 'it is outside the allowed roots');
    return { privateAllowed: matching.some((r) => r.namesPrivateHost) };
  }
}

/**
 * scheme://host[:port] (lower-cased, default port dropped — WHATWG URL does both) and the path with
 * dot segments resolved and percent-encoding normalized: unreserved characters decoded, the rest
 * upper-cased. Paths with an encoded slash or backslash are refused (undefined): servers differ on them.
 */
function normalizeHttpUrl(url: URL): { origin: string; path: string } | undefined {
  if (/%(2f|5c)/i.test(url.pathname)) return undefined;
  const decoded = url.pathname.replace(/%[0-9a-fA-F]{2}/g, (m) => {
    const c = String.fromCharCode(Number.parseInt(m.slice(1), 16));
    return /[A-Za-z0-9\-._~]/.test(c) ? c : m.toUpperCase();
  });
  const resolved = new URL(decoded, 'http://x').pathname;
  return { origin: `${url.protocol}//${url.host}`, path: resolved };
}

// Separate lists: Node's BlockList matches IPv4 addresses against IPv6 rules through their
// IPv4-mapped form, so one list with ::ffff:0:0/96 would block every IPv4 address.
const BLOCKED4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED4.addSubnet(net, bits, 'ipv4');
const BLOCKED6 = new BlockList();
for (const [net, bits] of [
  ['::', 96], // unspecified, loopback, IPv4-compatible
  ['::ffff:0:0', 96], // IPv4-mapped: never what a public host resolves to, refused whatever the IPv4
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2001::', 32], // Teredo: can carry any IPv4 address, 127.0.0.1 included
  ['2002::', 16], // 6to4: likewise
  ['100::', 64],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  BLOCKED6.addSubnet(net, bits, 'ipv6');

/** True for loopback, unspecified, link-local, private, CGNAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED4.check(address, 'ipv4');
  if (family === 6) return BLOCKED6.check(address, 'ipv6');
  return false;
}
