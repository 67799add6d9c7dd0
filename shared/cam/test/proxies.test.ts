import { describe, expect, it } from 'vitest';
import {
  buildProxySet,
  decodeProxySet,
  encodeProxySet,
  type ProxyMember,
  UnknownClassError,
} from '../src/index.js';

const info = {
  model: { name: 'm', fingerprint: 'f' },
  dataset: { name: 'toy', source: '/toy', split: 'train' },
};
const m = (label: number, id: string, v: number[]): ProxyMember => ({
  label,
  id,
  embedding: Float32Array.from(v),
});

// Class 1: three points in 2-D; class 2: one point.
const members = [m(1, '1', [3, 0]), m(1, '2', [0, 2]), m(1, '3', [1, 1]), m(2, '4', [0, -5])];

describe('proxies', () => {
  it('Normalized Mean Proxy: normalize(mean(normalize(y_i)))', () => {
    const set = buildProxySet(members, { ...info, scheme: 'mean' });
    // normalize: (1,0), (0,1), (1/√2,1/√2) → mean ∝ (1+1/√2, 1+1/√2) → (1/√2, 1/√2)
    expect(set.get(1)[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(set.get(1)[1]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(Array.from(set.get(2))).toEqual([0, -1]);
    expect(set.meta.classes).toEqual([
      { label: 1, count: 3 },
      { label: 2, count: 1 },
    ]);
  });

  it('Single Point Proxy is the medoid (closest to the mean) and records its image', () => {
    const set = buildProxySet(members, { ...info, scheme: 'single' });
    expect(set.meta.classes[0].medoidId).toBe('3');
    expect(set.get(1)[0]).toBeCloseTo(Math.SQRT1_2, 6);
    expect(set.meta.classes[1].medoidId).toBe('4');
  });

  it('one-hot proxies put a 1 at label − 1 and reject labels outside the logits', () => {
    const set = buildProxySet(members, { ...info, scheme: 'onehot', dim: 3 });
    expect(Array.from(set.get(1))).toEqual([1, 0, 0]);
    expect(Array.from(set.get(2))).toEqual([0, 1, 0]);
    expect(() => buildProxySet([m(5, 'x', [0])], { ...info, scheme: 'onehot', dim: 3 })).toThrow(
      /class 5.*index 4/,
    );
  });

  it('controls: random proxies are seeded unit vectors per class; uniform proxies are all ones', () => {
    const random = buildProxySet(members, { ...info, scheme: 'random', dim: 64 });
    const again = buildProxySet([...members].reverse(), { ...info, scheme: 'random', dim: 64 });
    expect(Buffer.from(again.vectors.buffer).equals(Buffer.from(random.vectors.buffer))).toBe(true);
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    expect(norm(random.get(1))).toBeCloseTo(1, 5);
    expect(norm(random.get(2))).toBeCloseTo(1, 5);
    const cos = random.get(1).reduce((s, x, j) => s + x * random.get(2)[j], 0);
    expect(Math.abs(cos)).toBeLessThan(0.5);
    const uniform = buildProxySet(members, { ...info, scheme: 'uniform', dim: 3 });
    expect(Array.from(uniform.get(2))).toEqual([1, 1, 1]);
    expect(() => buildProxySet(members, { ...info, scheme: 'random' })).toThrow(
      /need the embedding dimension/,
    );
  });

  it('is independent of member order (sharded builds give identical bits)', () => {
    const rnd = (seed: number) => () => {
      seed = (seed * 16807) % 2147483647;
      return (seed / 2147483647) * 2 - 1;
    };
    const r = rnd(7);
    const many = Array.from({ length: 200 }, (_, i) =>
      m(1 + (i % 3), String(i), Array.from({ length: 16 }, r)),
    );
    const a = buildProxySet(many, { ...info, scheme: 'mean' });
    const b = buildProxySet([...many].reverse(), { ...info, scheme: 'mean' });
    expect(Buffer.from(b.vectors.buffer).equals(Buffer.from(a.vectors.buffer))).toBe(true);
    expect(b.meta.sha256).toBe(a.meta.sha256);
  });

  it('round-trips bit-exactly through the artifact and detects corruption', () => {
    const set = buildProxySet(members, { ...info, scheme: 'single', classNames: new Map([[1, 'one']]) });
    const { data, meta } = encodeProxySet(set);
    const back = decodeProxySet(data, meta);
    expect(Buffer.from(back.vectors.buffer).equals(Buffer.from(set.vectors.buffer))).toBe(true);
    expect(back.meta).toEqual(set.meta);
    expect(back.meta.classes[0].name).toBe('one');
    const bad = Buffer.from(data);
    bad[0] ^= 1;
    expect(() => decodeProxySet(bad, meta, 'p.bin')).toThrow(/p\.bin: checksum mismatch/);
    expect(() => decodeProxySet(data.subarray(4), meta)).toThrow(/bytes, metadata needs 16/);
  });

  it('unknown classes fail with a clear, permanent error', () => {
    const set = buildProxySet(members, { ...info, scheme: 'mean' });
    expect(() => set.get(9)).toThrow(UnknownClassError);
    expect(() => set.get(9)).toThrow(/Class 9 has no proxy/);
    expect(set.nearest(Float32Array.from([0, -1]))).toBe(1);
  });

  it('ids are deterministic in what the proxies depend on', () => {
    const a = buildProxySet(members, { ...info, scheme: 'mean' });
    const b = buildProxySet(members, { ...info, scheme: 'mean' });
    const c = buildProxySet(members, {
      ...info,
      scheme: 'mean',
      dataset: { ...info.dataset, split: 'test' },
    });
    expect(a.meta.id).toBe(b.meta.id);
    expect(c.meta.id).not.toBe(a.meta.id);
  });
});
