import { initBackend } from '@embedcam/cam';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { matMul, Prng, proxyAnchorLoss } from '../src/index.js';

beforeAll(async () => {
  await initBackend();
});

type Mat = number[][];

/** Eq. 4 of Kim et al. (CVPR 2020) written out directly in float64 — the reference. */
function referenceLoss(x: Mat, labels: number[], p: Mat, alpha = 32, delta = 0.1): number {
  const unit = (v: number[]) => {
    const n = Math.hypot(...v);
    return v.map((a) => a / n);
  };
  const xs = x.map(unit);
  const ps = p.map(unit);
  const cos = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i], 0);
  let pos = 0;
  let withPos = 0;
  let neg = 0;
  ps.forEach((pc, c) => {
    let sp = 0;
    let sn = 0;
    let has = false;
    xs.forEach((xi, i) => {
      const s = cos(xi, pc);
      if (labels[i] === c) {
        has = true;
        sp += Math.exp(-alpha * (s - delta));
      } else sn += Math.exp(alpha * (s + delta));
    });
    if (has) {
      withPos++;
      pos += Math.log1p(sp);
    }
    neg += Math.log1p(sn);
  });
  return pos / withPos + neg / ps.length;
}

function tfLoss(x: Mat, labels: number[], p: Mat, alpha = 32, delta = 0.1): number {
  return tf.tidy(
    () =>
      proxyAnchorLoss(tf.tensor2d(x), tf.tensor1d(labels, 'int32'), tf.tensor2d(p), {
        alpha,
        delta,
      }).dataSync()[0],
  );
}

function randomMat(rng: Prng, rows: number, cols: number): Mat {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => rng.normal()));
}

// 6 embeddings × 4 dims, 3 classes in the batch, plus a 4th proxy with no positive in it (so |P⁺| = 3 ≠ |P| = 4).
const rng = new Prng(7);
const X = randomMat(rng, 6, 4);
const LABELS = [0, 0, 1, 1, 1, 2];
const P = randomMat(rng, 4, 4);

describe('Proxy-Anchor loss', () => {
  it('has the hand-computed value on orthogonal embeddings and proxies', () => {
    // x₀ = p₀ = e₀, x₁ = p₁ = e₁: s(x,own proxy) = 1, s(x,other) = 0. Both proxies have a positive:
    // ℓ = log(1 + e^{−α(1−δ)}) + log(1 + e^{αδ}) = log1p(e^{−28.8}) + log1p(e^{3.2}).
    const expected = Math.log1p(Math.exp(-28.8)) + Math.log1p(Math.exp(3.2));
    const got = tfLoss(
      [
        [1, 0],
        [0, 1],
      ],
      [0, 1],
      [
        [1, 0],
        [0, 1],
      ],
    );
    expect(expected).toBeCloseTo(3.23995, 5);
    expect(got).toBeCloseTo(expected, 5);
  });

  it('averages the positive term over proxies with positives and the negative term over all proxies', () => {
    // One embedding x = e₀ of class 0; proxies e₀, e₁, e₂. Positive: only p₀ (|P⁺| = 1):
    // log1p(e^{−α(1−δ)}). Negative: p₁, p₂ each see x at s = 0: 2·log1p(e^{αδ}) / 3 (p₀ has no negative: 0).
    const alpha = 4;
    const delta = 0.5;
    const expected = Math.log1p(Math.exp(-alpha * 0.5)) + (2 * Math.log1p(Math.exp(alpha * 0.5))) / 3;
    const got = tfLoss(
      [[1, 0, 0]],
      [0],
      [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      alpha,
      delta,
    );
    expect(got).toBeCloseTo(expected, 5);
  });

  it('matches the float64 reference on a random case and is scale invariant (cosine)', () => {
    const ref = referenceLoss(X, LABELS, P);
    expect(tfLoss(X, LABELS, P)).toBeCloseTo(ref, 4);
    const scaled = X.map((r, i) => r.map((v) => v * (i + 1) * 3));
    expect(tfLoss(scaled, LABELS, P)).toBeCloseTo(ref, 4);
  });

  it('stays finite where the direct formula overflows float32 (α = 200)', () => {
    const x = [
      [1, 0],
      [0.9, 0.1],
    ];
    const p = [
      [1, 0.05],
      [0, 1],
    ];
    const got = tfLoss(x, [1, 1], p, 200, 0.1);
    expect(Number.isFinite(got)).toBe(true);
    // float64 log-domain: e^{α(s+δ)} ≈ e^{220} is beyond float32 but not float64.
    expect(got).toBeCloseTo(referenceLoss(x, [1, 1], p, 200, 0.1), 2);
  });

  it('gradients (autodiff) match central finite differences of the float64 reference', () => {
    const [gx, gp] = tf.tidy(() => {
      const f = (x: tf.Tensor, p: tf.Tensor) =>
        proxyAnchorLoss(x as tf.Tensor2D, tf.tensor1d(LABELS, 'int32'), p as tf.Tensor2D);
      return tf
        .grads(f)([tf.tensor2d(X), tf.tensor2d(P)])
        .map((g) => g.arraySync() as Mat);
    });
    const eps = 1e-6;
    const fd = (which: 'x' | 'p', i: number, j: number) => {
      const plus = structuredClone(which === 'x' ? X : P);
      const minus = structuredClone(which === 'x' ? X : P);
      plus[i][j] += eps;
      minus[i][j] -= eps;
      const lp = which === 'x' ? referenceLoss(plus, LABELS, P) : referenceLoss(X, LABELS, plus);
      const lm = which === 'x' ? referenceLoss(minus, LABELS, P) : referenceLoss(X, LABELS, minus);
      return (lp - lm) / (2 * eps);
    };
    const check = (g: Mat, which: 'x' | 'p') => {
      const num = g.map((row, i) => row.map((_, j) => fd(which, i, j)));
      const scale = Math.max(...num.flat().map(Math.abs));
      expect(scale).toBeGreaterThan(1e-3); // a case with real gradients, not a flat region
      num.forEach((row, i) => {
        row.forEach((v, j) => {
          expect(Math.abs(g[i][j] - v), `${which}[${i}][${j}]: autodiff ${g[i][j]} vs FD ${v}`).toBeLessThan(
            2e-3 * scale,
          );
        });
      });
    };
    check(gx, 'x');
    check(gp, 'p');
    // The proxy of class 3 has no positive but still gets a gradient from the negative term.
    expect(Math.max(...gp[3].map(Math.abs))).toBeGreaterThan(0);
  });

  it('gradients match central finite differences of the float32 TF.js loss itself (rel. tol. 1e-2)', () => {
    const g = tf.tidy(() => {
      const f = (x: tf.Tensor) =>
        proxyAnchorLoss(x as tf.Tensor2D, tf.tensor1d(LABELS, 'int32'), tf.tensor2d(P));
      return tf.grad(f)(tf.tensor2d(X)).arraySync() as Mat;
    });
    const eps = 1e-3;
    const num = X.map((row, i) =>
      row.map((_, j) => {
        const plus = structuredClone(X);
        const minus = structuredClone(X);
        plus[i][j] += eps;
        minus[i][j] -= eps;
        return (tfLoss(plus, LABELS, P) - tfLoss(minus, LABELS, P)) / (2 * eps);
      }),
    );
    const diff = Math.hypot(...num.flat().map((v, k) => v - g.flat()[k]));
    const norm = Math.hypot(...num.flat());
    expect(norm).toBeGreaterThan(1e-3);
    expect(diff / norm).toBeLessThan(1e-2);
  });

  it('rejects mismatched shapes', () => {
    expect(() => tfLoss([[1, 0]], [0, 1], [[1, 0]])).toThrow(/labels/);
    expect(() => tfLoss([[1, 0]], [0], [[1, 0, 0]])).toThrow(/dimensions/);
  });
});

describe('matMul with explicit-transpose gradient', () => {
  it('has the same value and gradients as tf.matMul', () => {
    const r = new Prng(3);
    const a = tf.tensor2d(randomMat(r, 5, 7));
    const b = tf.tensor2d(randomMat(r, 7, 3));
    const w = tf.tensor2d(randomMat(r, 5, 3));
    const ours = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(matMul(x as tf.Tensor2D, y as tf.Tensor2D), w)),
    )([a, b]);
    const theirs = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D), w)),
    )([a, b]);
    const close = (u: tf.Tensor, v: tf.Tensor) =>
      expect(tf.max(tf.abs(tf.sub(u, v))).dataSync()[0]).toBeLessThan(1e-5);
    close(matMul(a, b), tf.matMul(a, b));
    close(ours[0], theirs[0]);
    close(ours[1], theirs[1]);
    expect(tf.max(tf.abs(ours[1])).dataSync()[0]).toBeGreaterThan(0.1);
  });
});
