// The services' reader of image URIs: readUri confined to the roots of the dataset at hand (its
// directory), the store, and the operator's allowed roots, with the read size limit.
import path from 'node:path';
import { DEFAULT_MAX_READ_BYTES, InputConfinement } from './input-confinement.js';
import { readUri } from './read-uri.js';

export interface InputReaderOptions {
  /** The configured store (its `uri`): what a run writes may be read back. */
  store?: { uri: string };
  /** EMBEDCAM_ALLOWED_URIS (and --allow): further roots. */
  allowed?: readonly string[];
  /** EMBEDCAM_MAX_READ_BYTES. */
  maxBytes?: number;
}

/**
 * The directory a dataset's images may live in: the CUB directory itself, or the folder of a
 * JSONL manifest (a dataset's `source`, as openDataset records it).
 */
export function datasetRootOf(source: string): string {
  const abs = path.resolve(source);
  return /\.(jsonl|ndjson)$/i.test(abs) ? path.dirname(abs) : abs;
}

export class InputReader {
  private readonly confinements = new Map<string, Promise<InputConfinement>>();

  constructor(private readonly opts: InputReaderOptions = {}) {}

  /** The confinement of one dataset (by its source path), built once and kept. */
  confinement(datasetSource: string): Promise<InputConfinement> {
    let c = this.confinements.get(datasetSource);
    if (!c) {
      const roots = [datasetRootOf(datasetSource), ...(this.opts.store ? [this.opts.store.uri] : [])];
      c = InputConfinement.create([...roots, ...(this.opts.allowed ?? [])]);
      c.catch(() => this.confinements.delete(datasetSource));
      this.confinements.set(datasetSource, c);
      if (this.confinements.size > 256) this.confinements.delete(this.confinements.keys().next().value!);
    }
    return c;
  }

  /** Reads `uri`, an image of the dataset whose source is `datasetSource`. */
  async read(uri: string, datasetSource: string): Promise<Buffer> {
    const confine = await this.confinement(datasetSource);
    return readUri(uri, { confine, maxBytes: this.opts.maxBytes ?? DEFAULT_MAX_READ_BYTES });
  }
}
