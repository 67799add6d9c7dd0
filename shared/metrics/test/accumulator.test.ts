// MetricsAccumulator.summary on hand-made images whose answers are known, and on an empty run.
import { describe, expect, it } from 'vitest';
import type { ImageMetrics } from '../src/index.js';
import { CENTRED_SIZES, MetricsAccumulator, TAUS } from '../src/index.js';

const range = (len: number, from: number, to: number) =>
  Array.from({ length: len }, (_, i) => (i >= from && i <= to ? 1 : 0));
const none = (len: number) => new Array<number>(len).fill(0);
const T = TAUS.length;
const S = CENTRED_SIZES.length;

interface Spec {
  energy: number | null;
  chance: number;
  io: number | null;
  pointing: boolean;
  centre: boolean;
  /** [from, to] τ-index ranges of hits, per δ. */
  largest: Array<[number, number] | null>;
  best: Array<[number, number] | null>;
  centred: Array<[number, number] | null>;
  centredEnergy9: number;
  uniform: number[];
}

function make(s: Spec): ImageMetrics {
  const rows = (spec: Array<[number, number] | null>, len: number) =>
    spec.map((r) => (r ? range(len, r[0], r[1]) : none(len)));
  const centredEnergy = none(S);
  centredEnergy[9] = s.centredEnergy9;
  return {
    energyRatio: s.energy,
    chance: s.chance,
    insideOutside: s.io,
    pointing: s.pointing,
    zeroMap: s.energy === null,
    largestHits: rows(s.largest, T),
    bestMatchHits: rows(s.best, T),
    centredHits: rows(s.centred, S),
    centredEnergy,
    uniformHits: s.uniform,
    centrePointing: s.centre,
  };
}

/** Four images with hand-picked hits; expected summary values are worked out in the tests. */
const FOUR: ImageMetrics[] = [
  make({
    energy: 0.5,
    chance: 0.1,
    io: 2,
    pointing: true,
    centre: true,
    largest: [[5, 60], [10, 50], null],
    best: [
      [0, 99],
      [20, 50],
      [45, 55],
    ],
    centred: [[0, 19], [9, 12], null],
    centredEnergy9: 0.8,
    uniform: [1, 1, 0],
  }),
  make({
    energy: 0.25,
    chance: 0.2,
    io: 4,
    pointing: true,
    centre: true,
    largest: [null, [30, 60], null],
    best: [[10, 30], [30, 60], null],
    centred: [[12, 12], [9, 10], null],
    centredEnergy9: 0.6,
    uniform: [1, 0, 0],
  }),
  make({
    energy: 0.75,
    chance: 0.3,
    io: null,
    pointing: false,
    centre: true,
    largest: [null, [30, 40], null],
    best: [[20, 20], [25, 40], null],
    centred: [[12, 12], [15, 15], null],
    centredEnergy9: 0.4,
    uniform: [0, 0, 0],
  }),
  make({
    energy: null, // zero map
    chance: 0.4,
    io: null,
    pointing: false,
    centre: false,
    largest: [null, null, null],
    best: [[20, 20], null, null],
    centred: [[12, 12], null, null],
    centredEnergy9: 0.2,
    uniform: [0, 0, 0],
  }),
];

describe('MetricsAccumulator.summary on four hand-made images', () => {
  const acc = new MetricsAccumulator();
  for (const m of FOUR) acc.add(m);
  const s = acc.summary();

  it('counts images and zero maps', () => {
    expect(s.images).toBe(4);
    expect(s.zeroMaps).toBe(1);
  });

  it('means over the defined values only', () => {
    expect(s.meanEnergyRatio).toBe(0.5); // (0.5 + 0.25 + 0.75) / 3
    expect(s.meanChance).toBeCloseTo(0.25, 15);
    expect(s.meanInsideOutside).toBe(3); // (2 + 4) / 2
  });

  it('MaxBoxAcc = 0.75 at τ = 0.3 (lowest of the tied best τ 0.30…0.40)', () => {
    expect(s.maxBoxAcc).toEqual({ value: 0.75, tau: 0.3 });
  });

  it('GT-known Loc at the default τ 0.2 and at a chosen τ', () => {
    expect(s.gtKnownLoc).toEqual({ value: 0.25, tau: 0.2 });
    expect(acc.summary({ tau: 0.35 }).gtKnownLoc).toEqual({ value: 0.75, tau: 0.35 });
    expect(acc.summary({ tau: 0.45 }).gtKnownLoc).toEqual({ value: 0.5, tau: 0.45 });
  });

  it('rejects a τ that is not on the 0.01 grid', () => {
    expect(() => acc.summary({ tau: 0.205 })).toThrow(/τ must be one of/);
    expect(() => acc.summary({ tau: 1 })).toThrow(RangeError);
  });

  it('MaxBoxAccV2: best τ per δ with best-match boxes, then the mean over δ', () => {
    expect(s.maxBoxAccV2.perDelta).toEqual({
      '0.3': { value: 1, tau: 0.2 },
      '0.5': { value: 0.75, tau: 0.3 },
      '0.7': { value: 0.25, tau: 0.45 },
    });
    expect(s.maxBoxAccV2.value).toBeCloseTo(2 / 3, 15);
  });

  it('pointing game counts zero maps as misses', () => {
    expect(s.pointingGame).toBe(0.5);
  });

  it('τ curve at δ 0.5 for the largest component', () => {
    expect(s.tauCurve).toHaveLength(100);
    expect(s.tauCurve[5]).toBe(0);
    expect(s.tauCurve[10]).toBe(0.25);
    expect(s.tauCurve[35]).toBe(0.75);
    expect(s.tauCurve[45]).toBe(0.5);
    expect(s.tauCurve[61]).toBe(0);
  });

  it('centred-box baseline: best size by δ 0.5, V2 with a best size per δ', () => {
    expect(s.baselines.centredBox.bestSize).toBe(0.5); // size index 9: 2 hits
    expect(s.baselines.centredBox.acc).toBe(0.5);
    expect(s.baselines.centredBox.accV2).toBeCloseTo((1 + 0.5 + 0) / 3, 15);
    expect(s.baselines.centredBox.energyRatio).toBeCloseTo(0.5, 15); // (0.8 + 0.6 + 0.4 + 0.2) / 4
  });

  it('uniform baseline: chance energy, whole-image hits, centre pointing', () => {
    expect(s.baselines.uniform.energyRatio).toBeCloseTo(0.25, 15);
    expect(s.baselines.uniform.acc).toBe(0.25);
    expect(s.baselines.uniform.accV2).toBeCloseTo((0.5 + 0.25 + 0) / 3, 15);
    expect(s.baselines.uniform.pointing).toBe(0.75);
  });
});

describe('MetricsAccumulator on an empty run', () => {
  it('has zero rates, null means and no NaN', () => {
    const s = new MetricsAccumulator().summary();
    expect(s.images).toBe(0);
    expect(s.meanEnergyRatio).toBeNull();
    expect(s.meanChance).toBeNull();
    expect(s.maxBoxAcc).toEqual({ value: 0, tau: 0 });
    expect(s.pointingGame).toBe(0);
    expect(JSON.stringify(s)).not.toMatch(/NaN|null,"tau"/);
  });
});
