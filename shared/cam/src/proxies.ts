import { createHash } from 'node:crypto';
import { formatIssues } from '@embedcam/validation';
import { z } from 'zod';
import { type ProxyScheme, proxySchemeSchema } from './proxy-scheme.js';

export interface ProxyClass {
  label: number;
  name?: string;
  /** Reference images that went into the proxy (0 for one-hot). */
  count: number;
  /** Single Point Proxy: the image whose embedding is the proxy. */
  medoidId?: string;
}

const metaSchema = z.object({
  format: z.literal('embedcam-proxies'),
  version: z.literal(1),
  id: z.string(),
  scheme: proxySchemeSchema,
  dim: z.number().int().positive(),
  dtype: z.literal('float32'),
  byteOrder: z.literal('little'),
  sha256: z.string(),
  classes: z.array(
    z.object({
      label: z.number().int(),
      name: z.string().optional(),
      count: z.number().int().min(0),
      medoidId: z.string().optional(),
    }),
  ),
  model: z.object({ name: z.string(), fingerprint: z.string().optional() }),
  dataset: z.object({
    name: z.string(),
    source: z.string(),
    split: z.string().optional(),
    classes: z.string().optional(),
  }),
  createdAt: z.string(),
});

export type ProxySetMeta = z.infer<typeof metaSchema>;

/** C proxies of dimension `dim`, row c for meta.classes[c]. */
export class ProxySet {
  private readonly rows = new Map<number, number>();

  constructor(
    readonly meta: ProxySetMeta,
    readonly vectors: Float32Array,
  ) {
    if (vectors.length !== meta.classes.length * meta.dim) {
      throw new Error(
        `Proxy set ${meta.id}: ${vectors.length} values for ${meta.classes.length} classes × ${meta.dim}.`,
      );
    }
    for (const [i, c] of meta.classes.entries()) this.rows.set(c.label, i);
  }

  get size(): number {
    return this.meta.classes.length;
  }

  has(label: number): boolean {
    return this.rows.has(label);
  }

  /** The proxy of a class; throws (naming the labels available) for an unknown class. */
  get(label: number): Float32Array {
    const row = this.rows.get(label);
    if (row === undefined) throw new UnknownClassError(label, this);
    return this.vectors.subarray(row * this.meta.dim, (row + 1) * this.meta.dim);
  }

  /** Index into meta.classes of the proxy with the highest y·p. */
  nearest(y: Float32Array): number {
    const { dim } = this.meta;
    let best = -1;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < this.size; c++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += y[j] * this.vectors[c * dim + j];
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    return best;
  }
}

export class UnknownClassError extends Error {
  readonly permanent = true;
  constructor(
    readonly label: number,
    set: ProxySet,
  ) {
    const labels = set.meta.classes.map((c) => c.label);
    super(
      `Class ${label} has no proxy in proxy set ${set.meta.id} (classes ${labels[0]}…${labels.at(-1)}, ${labels.length} in all); build proxies that include it or fix the label.`,
    );
    this.name = 'UnknownClassError';
  }
}

export interface ProxyMember {
  label: number;
  id: string;
  embedding: Float32Array;
}

export interface ProxyBuildInfo {
  scheme: ProxyScheme;
  model: ProxySetMeta['model'];
  dataset: ProxySetMeta['dataset'];
  classNames?: Map<number, string>;
  /** Label-only schemes: the embedding dimension; one-hot: label → index (default label − 1). */
  dim?: number;
  labelToIndex?: (label: number) => number;
}

function normalize(v: Float64Array | Float32Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const norm = Math.sqrt(s);
  const out = new Float64Array(v.length);
  if (norm > 0) for (let i = 0; i < v.length; i++) out[i] = v[i] / norm;
  return out;
}

const byId = (a: ProxyMember, b: ProxyMember) =>
  a.id.localeCompare(b.id, 'en', { numeric: true }) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Builds a proxy set from labelled reference embeddings. Members are sorted by id before summing
 * (in float64), so the result is bit-identical however the embeddings were sharded or ordered.
 * Normalized Mean: p = normalize(mean(normalize(y_i))). Single Point: the member closest (cosine)
 * to that mean, ties to the smallest id.
 */
export function buildProxySet(members: ProxyMember[], info: ProxyBuildInfo): ProxySet {
  const byClass = new Map<number, ProxyMember[]>();
  for (const m of members) {
    const list = byClass.get(m.label);
    if (list) list.push(m);
    else byClass.set(m.label, [m]);
  }
  const labels = [...byClass.keys()].sort((a, b) => a - b);
  if (info.scheme === 'onehot') return buildOneHot(labels, byClass, info);
  if (info.scheme === 'random' || info.scheme === 'uniform') return buildControl(labels, byClass, info);
  if (labels.length === 0)
    throw new Error('No reference images: cannot build proxies (check --classes and the reference split).');
  const dim = members[0].embedding.length;
  const vectors = new Float32Array(labels.length * dim);
  const classes: ProxyClass[] = labels.map((label, row) => {
    const list = byClass.get(label)!.sort(byId);
    const normed = list.map((m) => {
      if (m.embedding.length !== dim)
        throw new Error(`Embedding of image ${m.id} has ${m.embedding.length} values; expected ${dim}.`);
      return normalize(m.embedding);
    });
    const sum = new Float64Array(dim);
    for (const v of normed) for (let j = 0; j < dim; j++) sum[j] += v[j];
    const mean = normalize(sum);
    let chosen: Float64Array = mean;
    let medoidId: string | undefined;
    if (info.scheme === 'single') {
      let best = Number.NEGATIVE_INFINITY;
      normed.forEach((v, i) => {
        let s = 0;
        for (let j = 0; j < dim; j++) s += v[j] * mean[j];
        if (s > best) {
          best = s;
          chosen = v;
          medoidId = list[i].id;
        }
      });
    }
    vectors.set(chosen, row * dim);
    return { label, name: info.classNames?.get(label), count: list.length, medoidId };
  });
  return finish(info, dim, classes, vectors);
}

function buildOneHot(labels: number[], byClass: Map<number, ProxyMember[]>, info: ProxyBuildInfo): ProxySet {
  const dim = info.dim;
  if (!dim) throw new Error('One-hot proxies need the embedding dimension (number of logits).');
  const toIndex = info.labelToIndex ?? ((l: number) => l - 1);
  const vectors = new Float32Array(labels.length * dim);
  const classes = labels.map((label, row) => {
    const idx = toIndex(label);
    if (!Number.isInteger(idx) || idx < 0 || idx >= dim) {
      throw new Error(`One-hot proxy for class ${label} needs logit index ${idx}, outside 0…${dim - 1}.`);
    }
    vectors[row * dim + idx] = 1;
    return { label, name: info.classNames?.get(label), count: byClass.get(label)?.length ?? 0 };
  });
  return finish(info, dim, classes, vectors);
}

function buildControl(labels: number[], byClass: Map<number, ProxyMember[]>, info: ProxyBuildInfo): ProxySet {
  const dim = info.dim;
  if (!dim) throw new Error(`${info.scheme} proxies need the embedding dimension.`);
  const vectors = new Float32Array(labels.length * dim);
  const classes = labels.map((label, row) => {
    const v = vectors.subarray(row * dim, (row + 1) * dim);
    if (info.scheme === 'uniform') v.fill(1);
    else {
      // Seeded per class (Park–Miller + Box–Muller), so a rebuild gives the same bits.
      let seed = (label * 48271) % 2147483647 || 1;
      const next = () => {
        seed = (seed * 48271) % 2147483647;
        return seed / 2147483647;
      };
      let norm = 0;
      for (let j = 0; j < dim; j++) {
        v[j] = Math.sqrt(-2 * Math.log(next())) * Math.cos(2 * Math.PI * next());
        norm += v[j] * v[j];
      }
      for (let j = 0; j < dim; j++) v[j] /= Math.sqrt(norm);
    }
    return { label, name: info.classNames?.get(label), count: byClass.get(label)?.length ?? 0 };
  });
  return finish(info, dim, classes, vectors);
}

function finish(info: ProxyBuildInfo, dim: number, classes: ProxyClass[], vectors: Float32Array): ProxySet {
  const sha256 = sha256Of(vectors);
  const id = proxySetId(info);
  const meta: ProxySetMeta = {
    format: 'embedcam-proxies',
    version: 1,
    id,
    scheme: info.scheme,
    dim,
    dtype: 'float32',
    byteOrder: 'little',
    sha256,
    classes: classes.map(
      (c) => Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as ProxyClass,
    ),
    model: info.model,
    dataset: info.dataset,
    createdAt: new Date().toISOString(),
  };
  return new ProxySet(meta, vectors);
}

/** Deterministic id from what the proxies depend on, so rebuilding the same set lands at the same key. */
export function proxySetId(info: Pick<ProxyBuildInfo, 'scheme' | 'model' | 'dataset'>): string {
  const h = createHash('sha256')
    .update(JSON.stringify([info.scheme, info.model.name, info.model.fingerprint ?? '', info.dataset]))
    .digest('hex');
  return `${info.scheme}-${h.slice(0, 16)}`;
}

function sha256Of(v: Float32Array): string {
  return createHash('sha256')
    .update(Buffer.from(v.buffer, v.byteOffset, v.byteLength))
    .digest('hex');
}

/** The artifact: a little-endian float32 blob plus JSON metadata. */
export function encodeProxySet(set: ProxySet): { data: Buffer; meta: string } {
  const data = Buffer.alloc(set.vectors.byteLength);
  for (let i = 0; i < set.vectors.length; i++) data.writeFloatLE(set.vectors[i], i * 4);
  return { data, meta: `${JSON.stringify(set.meta, null, 2)}\n` };
}

export function decodeProxySet(data: Uint8Array, metaJson: string, source = 'proxy set'): ProxySet {
  let raw: unknown;
  try {
    raw = JSON.parse(metaJson);
  } catch (err) {
    throw new Error(`${source}: metadata is not valid JSON (${(err as Error).message}).`);
  }
  const parsed = metaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${source}: invalid metadata (${formatIssues(parsed.error)}).`);
  }
  const meta = parsed.data;
  const expected = meta.classes.length * meta.dim * 4;
  if (data.byteLength !== expected)
    throw new Error(`${source}: data has ${data.byteLength} bytes, metadata needs ${expected}.`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const vectors = new Float32Array(meta.classes.length * meta.dim);
  for (let i = 0; i < vectors.length; i++) vectors[i] = buf.readFloatLE(i * 4);
  if (sha256Of(vectors) !== meta.sha256)
    throw new Error(
      `${source}: checksum mismatch — the data file does not belong to this metadata or is corrupt.`,
    );
  return new ProxySet(meta, vectors);
}
