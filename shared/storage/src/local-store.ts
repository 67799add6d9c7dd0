// A directory used as an object store: the embedded default when no S3 is configured.
// Keys map to files under `root`; writes go to a temp file in the same directory and are
// renamed into place, so a reader (or a crashed writer) never leaves or sees half an object.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorCode, InvalidKeyError, NotFoundError, StorageError } from './errors.js';
import { getOrNull, type ObjectBody, type ObjectStore, type PutOptions } from './object-store.js';
import { validateKey, validatePrefix } from './validate-key.js';

/** In-progress writes are named with this prefix; list skips them and keys may not use it. */
export const TEMP_FILE_PREFIX = '.embedcam-tmp-';

export interface LocalStoreOptions {
  /**
   * fsync each file before the rename. Off by default: the rename alone already keeps readers
   * from seeing partial files; fsync only adds durability across power loss, at a cost per write.
   */
  fsync?: boolean;
}

export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly uri: string;
  private readonly fsync: boolean;

  constructor(root: string, options: LocalStoreOptions = {}) {
    this.root = path.resolve(root);
    this.uri = pathToFileURL(this.root).href;
    this.fsync = options.fsync ?? false;
  }

  async put(key: string, body: ObjectBody, _opts?: PutOptions): Promise<void> {
    const file = this.pathFor(key);
    const dir = path.dirname(file);
    const tmp = path.join(dir, `${TEMP_FILE_PREFIX}${randomBytes(6).toString('hex')}-${path.basename(file)}`);
    try {
      await mkdir(dir, { recursive: true });
      const handle = await open(tmp, 'wx');
      try {
        await handle.writeFile(body);
        if (this.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.wrap('put', key, err);
    }
  }

  async get(key: string): Promise<Buffer> {
    const file = this.pathFor(key);
    try {
      return await readFile(file);
    } catch (err) {
      throw this.wrap('get', key, err);
    }
  }

  getOrNull(key: string): Promise<Buffer | null> {
    return getOrNull(this, key);
  }

  async exists(key: string): Promise<boolean> {
    const file = this.pathFor(key);
    try {
      return (await stat(file)).isFile();
    } catch (err) {
      if (isMissing(err)) return false;
      throw this.wrap('exists', key, err);
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    validatePrefix(prefix);
    // Start the walk at the deepest directory the prefix names, then filter by string prefix,
    // which gives S3's semantics (`runs/1` matches `runs/10/x`) without scanning the whole root.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash < 0 ? '' : prefix.slice(0, slash);
    const start = dirKey ? this.resolveInside(dirKey) : this.root;
    for await (const key of this.walk(start, dirKey)) {
      if (key.startsWith(prefix)) yield key;
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.pathFor(key);
    try {
      // Empty parent directories are left in place: removing them would race with a
      // concurrent put into the same directory, and list only yields files anyway.
      await rm(file, { force: true });
    } catch (err) {
      throw this.wrap('delete', key, err);
    }
  }

  async close(): Promise<void> {}

  private async *walk(dir: string, dirKey: string): AsyncGenerator<string> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.wrap('list', dirKey, err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) continue;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) yield* this.walk(path.join(dir, entry.name), key);
      else if (entry.isFile()) yield key;
    }
  }

  /** Validated key → absolute file path. */
  private pathFor(key: string): string {
    validateKey(key);
    if (key.split('/').some((segment) => segment.startsWith(TEMP_FILE_PREFIX))) {
      throw new InvalidKeyError(
        key,
        `segments must not start with "${TEMP_FILE_PREFIX}" (reserved for writes)`,
      );
    }
    return this.resolveInside(key);
  }

  private resolveInside(key: string): string {
    const file = path.resolve(this.root, ...key.split('/'));
    // Belt and braces after validateKey: the resolved path must stay under the root.
    const rel = path.relative(this.root, file);
    if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
      throw new InvalidKeyError(key, `resolves outside the store root ${this.root}`);
    }
    return file;
  }

  private wrap(op: string, key: string, err: unknown): Error {
    if (err instanceof StorageError) return err;
    // A directory where the key should be a file counts as missing: no object has that key.
    if (op !== 'put' && (isMissing(err) || errorCode(err) === 'EISDIR')) {
      return new NotFoundError(key, this.uri, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new StorageError(`Local store ${op} ${JSON.stringify(key)} in ${this.uri} failed: ${message}`, {
      cause: err,
      // A file standing where a directory is needed (`a` vs `a/b`) will not go away on retry.
      permanent: ['ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG'].includes(errorCode(err) ?? ''),
    });
  }
}

function isMissing(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}
