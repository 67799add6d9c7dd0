// MetricsAccumulator as the pipeline combines it: merges, JSON state and Redis counters.

import { rng } from '@embedcam/test-support/random';
import { describe, expect, it } from 'vitest';
import type { AccumulatorState, Box, ImageMetrics } from '../src/index.js';
import {
  CENTRED_SIZES,
  computeImageMetrics,
  DELTAS,
  imageCounters,
  isFloatCounter,
  MetricsAccumulator,
} from '../src/index.js';
import { camLikeMap } from './maps.js';

const S = CENTRED_SIZES.length;

/** Metrics of real computations, so sums are arbitrary floats. */
function realistic(n: number, seed: number): ImageMetrics[] {
  const rand = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const data = i % 5 === 4 ? new Float32Array(32 * 32) : camLikeMap(rand, 32);
    const gt: Box = [rand() * 10, rand() * 10, 5 + rand() * 20, 5 + rand() * 20];
    return computeImageMetrics({ width: 32, height: 32, data }, gt);
  });
}

function expectSameState(a: AccumulatorState, b: AccumulatorState): void {
  const { energyRatioSum, chanceSum, insideOutsideSum, centredEnergySum, ...counts } = a;
  const { energyRatioSum: e2, chanceSum: c2, insideOutsideSum: i2, centredEnergySum: ce2, ...counts2 } = b;
  expect(counts2).toEqual(counts); // integer counters: exactly equal
  expect(e2).toBeCloseTo(energyRatioSum, 10); // float sums: equal up to summation order
  expect(c2).toBeCloseTo(chanceSum, 10);
  expect(i2).toBeCloseTo(insideOutsideSum, 10);
  for (const [k, v] of ce2.entries()) expect(v).toBeCloseTo(centredEnergySum[k], 10);
}

describe('MetricsAccumulator aggregation', () => {
  const images = realistic(20, 5);
  const all = new MetricsAccumulator();
  for (const m of images) all.add(m);

  it('the sample has both zero maps and hits (a meaningful check)', () => {
    expect(all.summary().zeroMaps).toBe(4);
    expect(all.summary().maxBoxAcc.value).toBeGreaterThan(0);
  });

  it('merging two halves equals adding everything', () => {
    const a = new MetricsAccumulator();
    const b = new MetricsAccumulator();
    for (const [i, m] of images.entries()) (i < 9 ? a : b).add(m);
    expectSameState(a.merge(b).toJSON(), all.toJSON());
    expect(a.count).toBe(20);
  });

  it('toJSON / fromJSON round-trips through JSON text', () => {
    const back = MetricsAccumulator.fromJSON(JSON.parse(JSON.stringify(all)));
    expect(back.toJSON()).toEqual(all.toJSON());
    expect(back.summary()).toEqual(all.summary());
  });

  it('toJSON returns a copy', () => {
    const j = all.toJSON();
    j.n = 999;
    j.largest[1][0] = 999;
    expect(all.count).toBe(20);
    expect(all.toJSON().largest[1][0]).not.toBe(999);
  });

  it('fromJSON rejects malformed state', () => {
    const j = all.toJSON() as unknown as Record<string, unknown>;
    expect(() => MetricsAccumulator.fromJSON({ ...j, version: 2 })).toThrow(/version 2/);
    expect(() => MetricsAccumulator.fromJSON({ ...j, largest: [[1]] })).toThrow(/largest must be a 3×100/);
    expect(() => MetricsAccumulator.fromJSON({ ...j, n: 'x' })).toThrow(/n must be a finite number/);
    expect(() => MetricsAccumulator.fromJSON(null)).toThrow(RangeError);
  });

  it('toCounters / fromCounters round-trips, also from Redis-style string values', () => {
    const rec = all.toCounters();
    expect(rec.n).toBe(20);
    expect(rec['largest:0.5:37']).toBe(all.toJSON().largest[1][37]);
    expect(Object.keys(rec)).toHaveLength(9 + 3 * (100 + 100 + S + 1) + S);
    expect(MetricsAccumulator.fromCounters(rec).toJSON()).toEqual(all.toJSON());
    const strings = Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, String(v)]));
    expect(MetricsAccumulator.fromCounters(strings).toJSON()).toEqual(all.toJSON());
  });

  it('summing per-image counters (HINCRBY / HINCRBYFLOAT) rebuilds the accumulator', () => {
    const hash: Record<string, number> = {};
    for (const m of images) {
      for (const [k, v] of Object.entries(imageCounters(m))) {
        if (!isFloatCounter(k)) expect(Number.isInteger(v)).toBe(true);
        hash[k] = (hash[k] ?? 0) + v;
      }
    }
    expect(imageCounters(images[0]).n).toBe(1);
    expect(Object.values(imageCounters(images[4])).every((v) => v !== 0)).toBe(true); // sparse
    expectSameState(MetricsAccumulator.fromCounters(hash).toJSON(), all.toJSON());
  });

  it('classifies float and integer counter fields', () => {
    expect(isFloatCounter('energyRatio:sum')).toBe(true);
    expect(isFloatCounter('centredEnergy:3')).toBe(true);
    expect(isFloatCounter('energyRatio:count')).toBe(false);
    expect(isFloatCounter('largest:0.5:37')).toBe(false);
  });

  it('fromCounters treats missing fields as 0 and rejects unknown fields and bad values', () => {
    const acc = MetricsAccumulator.fromCounters({ n: 2, 'largest:0.3:1': 1 });
    expect(acc.toJSON().largest[0][1]).toBe(1);
    expect(acc.toJSON().bestMatch[0][1]).toBe(0);
    expect(() => MetricsAccumulator.fromCounters({ 'largest:0.4:1': 1 })).toThrow(/δ must be one of/);
    expect(() => MetricsAccumulator.fromCounters({ 'largest:0.5:100': 1 })).toThrow(/0\.\.99/);
    expect(() => MetricsAccumulator.fromCounters({ nn: 1 })).toThrow(/unknown counter field "nn"/);
    expect(() => MetricsAccumulator.fromCounters({ n: 'abc' })).toThrow(/non-numeric/);
    expect(() => MetricsAccumulator.fromCounters({ n: '' })).toThrow(/non-numeric/);
  });

  it('refuses metrics computed with other centred sizes, and merges of different sizes', () => {
    const custom = computeImageMetrics(
      { width: 8, height: 8, data: new Float32Array(64).fill(1) },
      [0, 0, 4, 4],
      { centredSizes: [0.5] },
    );
    expect(() => new MetricsAccumulator().add(custom)).toThrow(/20 centred sizes/);
    const acc = new MetricsAccumulator({ centredSizes: [0.5] }).add(custom);
    expect(acc.summary().baselines.centredBox.bestSize).toBe(0.5);
    expect(() => acc.merge(new MetricsAccumulator())).toThrow(/different centred sizes/);
  });

  it('refuses malformed per-image metrics', () => {
    const bad = { ...images[0], largestHits: images[0].largestHits.slice(0, 2) };
    expect(() => new MetricsAccumulator().add(bad)).toThrow(/largestHits must be a 3×100/);
    const nan = { ...images[0], energyRatio: Number.NaN };
    expect(() => new MetricsAccumulator().add(nan)).toThrow(/energyRatio must be finite or null/);
    expect(DELTAS).toHaveLength(3);
  });
});
