import { initBackend } from '@embedcam/cam';
import * as tf from '@tensorflow/tfjs';

export const DEFAULT_KS = [1, 2, 4, 8] as const;

export interface RecallResult {
  ks: number[];
  /** Recall@K as a fraction in [0, 1], aligned with `ks`. */
  recall: number[];
  /** Number of queries (every embedding is a query). */
  queries: number;
  /** Queries whose class has no other member in the gallery; they count as misses at every K. */
  noPositive: number;
}

/** Copies rows into unit length (float64 accumulation); all-zero rows stay zero. */
export function normalizeRows(x: Float32Array, n: number, dim: number): Float32Array {
  if (x.length !== n * dim) throw new Error(`normalizeRows: ${x.length} values for ${n}×${dim}.`);
  const out = new Float32Array(x.length);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = x[i * dim + d];
      if (!Number.isFinite(v)) throw new Error(`Embedding ${i} has a non-finite value (${v}).`);
      s += v * v;
    }
    const norm = Math.sqrt(s);
    if (norm > 0) for (let d = 0; d < dim; d++) out[i * dim + d] = x[i * dim + d] / norm;
  }
  return out;
}

/**
 * Recall@K of image retrieval, the standard CUB / Cars / SOP protocol (e.g. Oh Song et al., CVPR
 * 2016; Kim et al., CVPR 2020): every image is a query, the gallery is every *other* image of the
 * set, similarity is the cosine (embeddings are L2-normalised here), and a query scores 1 at K when
 * one of its K nearest neighbours has its class. Recall@K is the mean over queries.
 *
 * Ties are resolved in expectation over a random order of the tied neighbours, so the result does
 * not depend on the order of the images: with g neighbours strictly closer than the best positive,
 * and n negatives and p positives tied with it, the hit probability at K is 0 when K ≤ g, 1 when
 * K − g > n, else 1 − C(n, K−g) / C(n+p, K−g). A query whose class has no other image is a miss.
 */
export async function recallAtK(
  embeddings: Float32Array,
  labels: ArrayLike<number>,
  dim: number,
  ks: readonly number[] = DEFAULT_KS,
  opts: { chunkRows?: number } = {},
): Promise<RecallResult> {
  const n = labels.length;
  if (embeddings.length !== n * dim)
    throw new Error(`recallAtK: ${embeddings.length} values for ${n} labels × ${dim} dimensions.`);
  for (const k of ks)
    if (!Number.isInteger(k) || k < 1) throw new Error(`recallAtK: K must be ≥ 1, got ${k}.`);
  await initBackend();
  const hits = new Float64Array(ks.length);
  let noPositive = 0;
  if (n === 0) return { ks: [...ks], recall: ks.map(() => 0), queries: 0, noPositive: 0 };
  const x = tf.tensor2d(normalizeRows(embeddings, n, dim), [n, dim]);
  // Gallery transposed once: matMul with transposeB runs ~10× slower on the WebAssembly backend.
  const xt = tf.transpose(x);
  try {
    // Similarities are computed for `chunk` queries at a time (≈64 MB of float32 per chunk).
    const chunk = opts.chunkRows ?? Math.max(1, Math.min(n, Math.floor(16_000_000 / n)));
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const simT = tf.tidy(() => tf.matMul(tf.slice(x, [start, 0], [m, dim]), xt));
      const sim = (await simT.data()) as Float32Array;
      simT.dispose();
      for (let r = 0; r < m; r++) {
        const i = start + r;
        const row = sim.subarray(r * n, (r + 1) * n);
        const label = labels[i];
        let best = Number.NEGATIVE_INFINITY;
        let hasPos = false;
        for (let j = 0; j < n; j++) {
          if (j !== i && labels[j] === label) {
            hasPos = true;
            if (row[j] > best) best = row[j];
          }
        }
        if (!hasPos) {
          noPositive++;
          continue;
        }
        let closer = 0;
        let tiedNeg = 0;
        let tiedPos = 0;
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          if (row[j] > best) closer++;
          else if (row[j] === best) labels[j] === label ? tiedPos++ : tiedNeg++;
        }
        ks.forEach((k, t) => {
          hits[t] += hitProbability(k - closer, tiedNeg, tiedPos);
        });
      }
    }
  } finally {
    x.dispose();
    xt.dispose();
  }
  return { ks: [...ks], recall: [...hits].map((h) => h / n), queries: n, noPositive };
}

/** P(a positive among the first `slots` of a random order of `neg` negatives and `pos` ≥ 1 positives). */
export function hitProbability(slots: number, neg: number, pos: number): number {
  if (slots <= 0) return 0;
  if (slots > neg) return 1;
  let allNeg = 1;
  for (let t = 0; t < slots; t++) allNeg *= (neg - t) / (neg + pos - t);
  return 1 - allNeg;
}

/** A Markdown table of Recall@K in percent: one row per named result, one column per K. */
export function formatRecallTable(rows: Array<{ name: string; result: RecallResult }>): string {
  if (rows.length === 0) return '';
  const ks = rows[0].result.ks;
  const header = `| embedding | ${ks.map((k) => `R@${k}`).join(' | ')} |`;
  const rule = `|---|${ks.map(() => '---:').join('|')}|`;
  const lines = rows.map(
    (r) => `| ${r.name} | ${r.result.recall.map((v) => `${(v * 100).toFixed(1)}`).join(' | ')} |`,
  );
  return [header, rule, ...lines].join('\n');
}
