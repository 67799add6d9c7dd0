import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddingCam, loadCamModel, type ModelSpec, modelFingerprint, parseModelSpec } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { embedItems, type FailedItem, type ReadImage, readLocalImage } from '@embedcam/explain';

export const DEFAULT_FEATURE_CACHE_DIR = '.embedcam/cache/features';

/**
 * The backbone of a model spec as a feature extractor: head = plain global average pooling of the
 * target layer (dense layers dropped), no L2 normalisation — the input of a trainable head.
 */
export function backboneSpec(spec: ModelSpec): ModelSpec {
  if (spec.head.type !== 'gap') {
    throw new Error(
      `Model ${spec.name}: training a head needs a spec with head.type "gap" (the pooled target layer is the feature).`,
    );
  }
  const { dense: _d, weights: _w, ...gap } = spec.head;
  const { modelPath, weightsPath: _wp, specPath: _sp, ...rest } = spec;
  return parseModelSpec(
    {
      ...rest,
      model: modelPath,
      // The ONNX graph's exported embedding would bypass the (trained) head: never carry it over.
      embeddingOutput: undefined,
      name: spec.name,
      head: { ...gap, type: 'gap', dense: [] },
      l2normalize: false,
    },
    path.dirname(modelPath),
    spec.specPath ?? '<backbone>',
  );
}

interface CacheEntry {
  row: number;
  uri: string;
  /** Image file size and mtime when the feature was computed; a changed file is a miss. */
  size: number;
  mtimeMs: number;
}

interface CacheIndex {
  format: 'embedcam-feature-cache';
  version: 1;
  dim: number;
  dtype: 'float32';
  rows: number;
  model: { name: string; fingerprint: string };
  dataset: { name: string; source: string };
  entries: Record<string, CacheEntry>;
  updatedAt: string;
}

/**
 * An append-only on-disk store of one feature vector per image, for one backbone (fingerprint)
 * and one dataset: `<dir>/<fingerprint>/<dataset hash>.bin` (little-endian float32 rows) and
 * `.json` (index by image id: row, uri, file size and mtime). Rows past the index (an interrupted
 * write) are cut off on open. One writer at a time.
 */
export class FeatureCache {
  private constructor(
    readonly binPath: string,
    readonly jsonPath: string,
    private index: CacheIndex,
    private data: Float32Array,
  ) {}

  static async open(opts: {
    dir: string;
    fingerprint: string;
    modelName: string;
    dataset: { name: string; source: string };
    dim?: number;
  }): Promise<FeatureCache> {
    const key = createHash('sha256').update(path.resolve(opts.dataset.source)).digest('hex').slice(0, 16);
    const base = path.join(path.resolve(opts.dir), opts.fingerprint, key);
    const binPath = `${base}.bin`;
    const jsonPath = `${base}.json`;
    const fresh = (): CacheIndex => ({
      format: 'embedcam-feature-cache',
      version: 1,
      dim: opts.dim ?? 0,
      dtype: 'float32',
      rows: 0,
      model: { name: opts.modelName, fingerprint: opts.fingerprint },
      dataset: { name: opts.dataset.name, source: path.resolve(opts.dataset.source) },
      entries: {},
      updatedAt: new Date().toISOString(),
    });
    let index: CacheIndex | undefined;
    try {
      const parsed = JSON.parse(await readFile(jsonPath, 'utf8')) as CacheIndex;
      if (parsed.format === 'embedcam-feature-cache' && parsed.version === 1) index = parsed;
    } catch {
      // No cache yet, or an unreadable index: start over.
    }
    let data = new Float32Array(0);
    if (index) {
      const want = index.rows * index.dim * 4;
      const size = await stat(binPath).then(
        (s) => s.size,
        () => -1,
      );
      if (size < want || (opts.dim !== undefined && index.dim !== opts.dim && index.rows > 0)) {
        index = undefined; // truncated data or another dimension: unusable
      } else {
        if (size > want) await truncate(binPath, want);
        const buf = await readFile(binPath);
        data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + want));
      }
    }
    if (!index) {
      await rm(binPath, { force: true });
      index = fresh();
    }
    return new FeatureCache(binPath, jsonPath, index, data);
  }

  get dim(): number {
    return this.index.dim;
  }

  get size(): number {
    return Object.keys(this.index.entries).length;
  }

  /** The cached feature of an item when its image file is unchanged, else null. */
  async get(item: DatasetItem): Promise<Float32Array | null> {
    const e = this.index.entries[item.id];
    if (!e || e.uri !== item.uri) return null;
    const st = await fileStamp(item.uri);
    if (!st || st.size !== e.size || st.mtimeMs !== e.mtimeMs) return null;
    const d = this.index.dim;
    return this.data.subarray(e.row * d, (e.row + 1) * d);
  }

  /** Appends features (data file first, then the index atomically). */
  async add(rows: Array<{ item: DatasetItem; feature: Float32Array }>): Promise<void> {
    if (rows.length === 0) return;
    const dim = rows[0].feature.length;
    if (this.index.rows === 0) this.index.dim = dim;
    if (dim !== this.index.dim)
      throw new Error(`Feature cache: dimension ${dim}, cache holds ${this.index.dim}.`);
    const block = new Float32Array(rows.length * dim);
    const stamps = await Promise.all(rows.map((r) => fileStamp(r.item.uri)));
    rows.forEach((r, i) => {
      block.set(r.feature, i * dim);
    });
    await mkdir(path.dirname(this.binPath), { recursive: true });
    await appendFile(this.binPath, Buffer.from(block.buffer, block.byteOffset, block.byteLength));
    const merged = new Float32Array(this.data.length + block.length);
    merged.set(this.data);
    merged.set(block, this.data.length);
    this.data = merged;
    rows.forEach((r, i) => {
      const st = stamps[i];
      // An image that cannot be stat'ed (remote URI) is never served from the cache.
      if (st) this.index.entries[r.item.id] = { row: this.index.rows + i, uri: r.item.uri, ...st };
    });
    this.index.rows += rows.length;
    this.index.updatedAt = new Date().toISOString();
    const tmp = `${this.jsonPath}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.index));
    await rename(tmp, this.jsonPath);
  }
}

async function fileStamp(uri: string): Promise<{ size: number; mtimeMs: number } | null> {
  let file: string;
  if (uri.startsWith('file://')) file = fileURLToPath(uri);
  else if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(uri)) return null;
  else file = uri;
  try {
    const s = await stat(file);
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch {
    return null;
  }
}

export interface ExtractFeaturesOptions {
  /** Model spec whose `gap` head (without dense layers) gives the features; see backboneSpec. */
  spec: ModelSpec;
  items: DatasetItem[];
  dataset: { name: string; source: string };
  /** Cache directory (default `.embedcam/cache/features`); null disables the cache. */
  cacheDir?: string | null;
  /** Images per forward pass (default 16). */
  batchSize?: number;
  read?: ReadImage;
  /** Features computed between two cache writes (default 256), so an interruption loses little. */
  flushEvery?: number;
  onProgress?: (done: number, total: number, failed: number) => void;
}

export interface FeatureSet {
  /** The items that have a feature, in input order (failed images dropped). */
  items: DatasetItem[];
  /** items.length × dim, row-major. */
  features: Float32Array;
  dim: number;
  failed: FailedItem[];
  cache: {
    enabled: boolean;
    hits: number;
    misses: number;
    /** The cache data file, when enabled. */
    path?: string;
    fingerprint: string;
  };
  /** True when every feature came from the cache (the backbone was not loaded). */
  backboneSkipped: boolean;
}

/**
 * Global-average-pooled backbone features of dataset items (the backbone runs forward only, in
 * batches), read from / added to the on-disk FeatureCache: a second run on the same images loads
 * no model at all.
 */
export async function extractFeatures(opts: ExtractFeaturesOptions): Promise<FeatureSet> {
  const spec = backboneSpec(opts.spec);
  const fingerprint = await modelFingerprint(spec);
  const cacheDir = opts.cacheDir === undefined ? DEFAULT_FEATURE_CACHE_DIR : opts.cacheDir;
  const cache =
    cacheDir === null
      ? null
      : await FeatureCache.open({ dir: cacheDir, fingerprint, modelName: spec.name, dataset: opts.dataset });
  const found = new Map<string, Float32Array>();
  const missing: DatasetItem[] = [];
  for (const item of opts.items) {
    const f = cache ? await cache.get(item) : null;
    if (f) found.set(item.id, f);
    else missing.push(item);
  }
  const hits = found.size;
  const total = opts.items.length;
  const failed: FailedItem[] = [];
  opts.onProgress?.(hits, total, 0);
  if (missing.length > 0) {
    const model = await loadCamModel(spec);
    try {
      const cam = new EmbeddingCam(model);
      const flushEvery = opts.flushEvery ?? 256;
      for (let start = 0; start < missing.length; start += flushEvery) {
        const chunk = missing.slice(start, start + flushEvery);
        const byId = new Map(chunk.map((it) => [it.id, it]));
        const { members, failed: bad } = await embedItems(cam, chunk, {
          batchSize: opts.batchSize ?? 16,
          read: opts.read ?? readLocalImage,
          onProgress: (done) => opts.onProgress?.(hits + start + done, total, failed.length),
        });
        failed.push(...bad);
        for (const m of members) found.set(m.id, m.embedding);
        await cache?.add(members.map((m) => ({ item: byId.get(m.id)!, feature: m.embedding })));
      }
    } finally {
      model.dispose();
    }
  }
  const items = opts.items.filter((it) => found.has(it.id));
  const dim = items.length > 0 ? found.get(items[0].id)!.length : (cache?.dim ?? 0);
  const features = new Float32Array(items.length * dim);
  items.forEach((it, i) => {
    features.set(found.get(it.id)!, i * dim);
  });
  return {
    items,
    features,
    dim,
    failed,
    cache: {
      enabled: cache !== null,
      hits,
      misses: missing.length,
      path: cache?.binPath,
      fingerprint,
    },
    backboneSkipped: missing.length === 0,
  };
}
