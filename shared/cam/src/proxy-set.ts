// A proxy set (one vector per class, with its metadata) and its artifact: proxies.bin + proxies.json.
import { createHash } from 'node:crypto';
import { formatIssues } from '@embedcam/validation';
import { z } from 'zod';
import { proxySchemeSchema } from './proxy-scheme.js';

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

/** The checksum proxies.json records for the vectors. */
export function vectorsSha256(v: Float32Array): string {
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
  if (vectorsSha256(vectors) !== meta.sha256)
    throw new Error(
      `${source}: checksum mismatch — the data file does not belong to this metadata or is corrupt.`,
    );
  return new ProxySet(meta, vectors);
}
