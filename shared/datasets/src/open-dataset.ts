import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCub } from './cub-reader.js';
import { DatasetError } from './dataset-error.js';
import { readManifest } from './manifest-reader.js';
import type { Dataset } from './types.js';

const ACCEPTED = 'pass a CUB-200-2011 directory (containing images.txt) or a .jsonl / .ndjson manifest file';

/** Opens a local dataset, picking the reader from what the path is. Accepts a path or a file:// URL. */
export async function openDataset(pathOrUri: string): Promise<Dataset> {
  let target: string;
  if (/^file:\/\//i.test(pathOrUri)) {
    target = fileURLToPath(pathOrUri);
  } else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(pathOrUri)) {
    throw new DatasetError(
      pathOrUri,
      undefined,
      'remote datasets are not supported',
      `${ACCEPTED} on local disk`,
    );
  } else {
    target = path.resolve(pathOrUri);
  }
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new DatasetError(target, undefined, 'does not exist', ACCEPTED);
  if (info.isDirectory()) {
    const hasImagesTxt = await stat(path.join(target, 'images.txt')).then(
      (s) => s.isFile(),
      () => false,
    );
    if (hasImagesTxt) return readCub(target);
    throw new DatasetError(target, undefined, 'is a directory without images.txt', ACCEPTED);
  }
  if (/\.(jsonl|ndjson)$/i.test(target)) return readManifest(target);
  throw new DatasetError(target, undefined, 'is not a recognised dataset', ACCEPTED);
}
