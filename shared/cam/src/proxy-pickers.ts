import type { ProxyPicker } from './embedding-cam.js';
import type { ProxySet } from './proxy-set.js';

/** Explain each image against the proxy of a given class (GT-known: its label). */
export function classPicker(set: ProxySet, labels: number[]): ProxyPicker {
  return (_y, n, dim) => {
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) out.set(set.get(labels[i]), i * dim);
    return out;
  };
}

/** Explain each image against its nearest proxy ("predicted" class). */
export function nearestPicker(set: ProxySet): ProxyPicker {
  return (y, n, dim) => {
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const c = set.nearest(y.subarray(i * dim, (i + 1) * dim));
      out.set(set.vectors.subarray(c * dim, (c + 1) * dim), i * dim);
    }
    return out;
  };
}

/** Explicit proxy vectors, one per image. */
export function vectorPicker(vectors: Float32Array[]): ProxyPicker {
  return (_y, n, dim) => {
    const out = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      if (vectors[i].length !== dim)
        throw new Error(`Proxy vector ${i} has ${vectors[i].length} values; the embedding has ${dim}.`);
      out.set(vectors[i], i * dim);
    }
    return out;
  };
}
