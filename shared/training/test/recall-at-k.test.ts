import { describe, expect, it } from 'vitest';
import { formatRecallTable, hitProbability, normalizeRows, Prng, recallAtK } from '../src/index.js';

/** Unit vectors at the given angles (degrees), flattened N×2. */
function atAngles(deg: number[]): Float32Array {
  return Float32Array.from(
    deg.flatMap((d) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)]),
  );
}

describe('Recall@K', () => {
  it('matches hand-computed neighbours (no ties)', async () => {
    // A0 0°, A1 15°, B0 25°, B1 90°, C0 180°, C1 200°. Nearest same-class neighbour by rank:
    // A0 → A1 (1st); A1 → B0 (10°) then A0 (15°): 2nd; B0 → A1, A0, then B1: 3rd;
    // B1 → B0 (65°): 1st; C0 ↔ C1 (20°): 1st. R@1 = 4/6, R@2 = 5/6, R@4 = R@8 = 1.
    const r = await recallAtK(atAngles([0, 15, 25, 90, 180, 200]), [1, 1, 2, 2, 3, 3], 2);
    expect(r.ks).toEqual([1, 2, 4, 8]);
    expect(r.recall[0]).toBeCloseTo(4 / 6, 10);
    expect(r.recall[1]).toBeCloseTo(5 / 6, 10);
    expect(r.recall[2]).toBe(1);
    expect(r.recall[3]).toBe(1);
    expect(r.queries).toBe(6);
    expect(r.noPositive).toBe(0);
  });

  it('uses cosine similarity: scaling an embedding changes nothing', async () => {
    const x = atAngles([0, 15, 25, 90, 180, 200]);
    for (let i = 0; i < x.length; i++) x[i] *= 1 + Math.floor(i / 2); // row r scaled by r + 1
    const r = await recallAtK(x, [1, 1, 2, 2, 3, 3], 2);
    expect(r.recall[0]).toBeCloseTo(4 / 6, 10);
    expect(r.recall[1]).toBeCloseTo(5 / 6, 10);
  });

  it('resolves ties in expectation over the order of the tied neighbours', async () => {
    // q=(1,0) A, P=(0,1) A, N=(0,1) B, M=(1,0) B. For every query one negative is strictly closer
    // (sim 1) and its only positive ties with one negative (sim 0): R@1 = 0, R@2 = 1/2, R@4 = 1.
    const x = Float32Array.from([1, 0, 0, 1, 0, 1, 1, 0]);
    const labels = [1, 1, 2, 2];
    const r = await recallAtK(x, labels, 2);
    expect(r.recall).toEqual([0, 0.5, 1, 1]);
    // The order of the images does not matter (a sort-based tie-break would).
    const perm = [2, 0, 3, 1];
    const xp = Float32Array.from(perm.flatMap((i) => [x[2 * i], x[2 * i + 1]]));
    expect(
      (
        await recallAtK(
          xp,
          perm.map((i) => labels[i]),
          2,
        )
      ).recall,
    ).toEqual([0, 0.5, 1, 1]);
  });

  it('counts a query without any positive as a miss, and ties among identical vectors', async () => {
    // Three identical vectors, classes A, A, B: each A query ties its positive with the B → ½ at
    // K = 1, 1 at K = 2; the B query has no positive: 0 everywhere. R@1 = 1/3, R@2 = 2/3.
    const r = await recallAtK(Float32Array.from([1, 0, 1, 0, 1, 0]), [1, 1, 2], 2);
    expect(r.noPositive).toBe(1);
    expect(r.recall[0]).toBeCloseTo(1 / 3, 10);
    expect(r.recall[1]).toBeCloseTo(2 / 3, 10);
    expect(r.recall[3]).toBeCloseTo(2 / 3, 10);
  });

  it('hitProbability is the hypergeometric "at least one positive in the first slots"', () => {
    expect(hitProbability(0, 3, 1)).toBe(0);
    expect(hitProbability(1, 3, 1)).toBeCloseTo(1 / 4, 12);
    expect(hitProbability(2, 3, 1)).toBeCloseTo(1 / 2, 12);
    expect(hitProbability(1, 2, 2)).toBeCloseTo(1 / 2, 12);
    expect(hitProbability(2, 2, 2)).toBeCloseTo(1 - 1 / 6, 12); // 1 − C(2,2)/C(4,2)
    expect(hitProbability(3, 2, 2)).toBe(1);
  });

  it('equals a brute-force sort on random data, across query chunks', async () => {
    const rng = new Prng(11);
    const n = 57;
    const dim = 5;
    const x = rng.normalArray(n * dim, 1);
    const labels = Array.from({ length: n }, () => rng.int(6));
    const unit = normalizeRows(x, n, dim);
    const expected = [1, 2, 4, 8].map((k) => {
      let hits = 0;
      for (let i = 0; i < n; i++) {
        const sims = [];
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          let s = 0;
          for (let d = 0; d < dim; d++) s += unit[i * dim + d] * unit[j * dim + d];
          sims.push({ s, l: labels[j] });
        }
        sims.sort((a, b) => b.s - a.s);
        if (sims.slice(0, k).some((e) => e.l === labels[i])) hits++;
      }
      return hits / n;
    });
    const whole = await recallAtK(x, labels, dim);
    const chunked = await recallAtK(x, labels, dim, [1, 2, 4, 8], { chunkRows: 8 });
    expect(whole.recall).toEqual(expected);
    expect(chunked.recall).toEqual(expected);
    expect(expected[0]).toBeLessThan(expected[3]); // a case where K matters
  });

  it('rejects inconsistent input', async () => {
    await expect(recallAtK(new Float32Array(5), [1, 2], 2)).rejects.toThrow(/values/);
    await expect(recallAtK(new Float32Array(4), [1, 2], 2, [0])).rejects.toThrow(/K/);
    await expect(recallAtK(Float32Array.from([Number.NaN, 0, 1, 0]), [1, 1], 2)).rejects.toThrow(
      /non-finite/,
    );
  });

  it('formats a Markdown table in percent', async () => {
    const r = await recallAtK(atAngles([0, 15, 25, 90, 180, 200]), [1, 1, 2, 2, 3, 3], 2);
    expect(formatRecallTable([{ name: 'head', result: r }])).toBe(
      [
        '| embedding | R@1 | R@2 | R@4 | R@8 |',
        '|---|---:|---:|---:|---:|',
        '| head | 66.7 | 83.3 | 100.0 | 100.0 |',
      ].join('\n'),
    );
  });
});
