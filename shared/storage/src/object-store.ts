// The one storage interface the pipeline talks to; local directories and S3 both implement it,
// so services never branch on where their data lives (DESIGN.md §3, "Storage by URI").
import { NotFoundError } from './errors.js';

/** Bytes accepted by `put`; strings are stored as UTF-8. */
export type ObjectBody = Buffer | Uint8Array | string;

export interface PutOptions {
  /** MIME type recorded by S3 (ignored by the local store). */
  contentType?: string;
}

export interface ObjectStore {
  /** Where the store points, e.g. `s3://bucket/prefix` or `file:///abs/dir`. */
  readonly uri: string;
  /** Writes the whole object; readers see either the old or the new bytes, never a mix. */
  put(key: string, body: ObjectBody, opts?: PutOptions): Promise<void>;
  /** Reads the whole object; throws NotFoundError when it is missing. */
  get(key: string): Promise<Buffer>;
  /** Like get, but resolves null when the object is missing (one round trip instead of two). */
  getOrNull(key: string): Promise<Buffer | null>;
  exists(key: string): Promise<boolean>;
  /**
   * Every key that starts with `prefix` (a plain string prefix, as in S3: `runs/1` also matches
   * `runs/10/x`; use `runs/1/` for a "directory"). `''` lists everything. Order is unspecified.
   */
  list(prefix: string): AsyncIterable<string>;
  /** Removes the object; deleting a missing key is not an error (same as S3). */
  delete(key: string): Promise<void>;
  /** Releases clients and sockets; the store must not be used afterwards. */
  close(): Promise<void>;
}

/** `get`, but null for a missing object: the one implementation both stores' getOrNull use. */
export async function getOrNull(store: Pick<ObjectStore, 'get'>, key: string): Promise<Buffer | null> {
  try {
    return await store.get(key);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}
