// Building a proxy set from labelled reference embeddings (or from labels only, for the control
// schemes), and the id that names it.
import { createHash } from 'node:crypto';
import type { ProxyScheme } from './proxy-scheme.js';
import { type ProxyClass, ProxySet, type ProxySetMeta, vectorsSha256 } from './proxy-set.js';

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
  const sha256 = vectorsSha256(vectors);
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
