// The report of a hand-made run, checked against numbers worked out by hand (see the comments),
// not against the summary code the aggregator itself uses: a fault in the assembly shows here.
import { storageKeys } from '@embedcam/queues';
import { beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN_FAILURE, GOLDEN_RESULTS, GOLDEN_RUN } from './fixtures/golden/inputs.js';
import { useAggregators } from './harness.js';
import {
  enqueue,
  failedJob,
  okJob,
  readReport,
  runConfig,
  seedRun,
  type TestEnv,
  waitFor,
} from './helpers.js';

/** A τ curve from runs of equal values: [count, value] each (100 entries in all). */
const curve = (...runs: Array<[number, number]>) => runs.flatMap(([n, v]) => Array<number>(n).fill(v));

// Images with a box (n = 4): img-1, img-2, img-3 (all-zero map), img-10; img-4 has none.
// Largest component, δ = 0.5, hits at τ index: img-1 [10,50), img-2 [30,70), img-10 [40,45).
// Hits per τ: 0–9: 0, 10–29: 1, 30–39: 2, 40–44: 3, 45–49: 2, 50–69: 1, 70–99: 0 (of 4).
const EXPECTED_REPORT = {
  run: runConfig(GOLDEN_RUN, 6, 0.3),
  images: { selected: 6, processed: 5, failed: 1, withBox: 4 },
  metrics: {
    images: 4,
    zeroMaps: 1,
    meanEnergyRatio: 0.5, // (0.75 + 0.5 + 0.25) / 3, img-3 has none
    meanChance: 0.25, // (0.25 + 0.5 + 0.125 + 0.125) / 4
    meanInsideOutside: 1.5, // (3 + 1 + 0.5) / 3
    gtKnownLoc: { value: 0.5, tau: 0.3 }, // run τ 0.3: img-1 and img-2
    maxBoxAcc: { value: 0.75, tau: 0.4 }, // 3 of 4 first at τ 0.40
    maxBoxAccV2: {
      // Best match: δ 0.3 img-1 [0,60) img-2 [0,80) img-10 [20,50) → 3 first at τ 0.20;
      // δ 0.5 img-1 [10,60) img-2 [30,70) img-10 [35,50) → 3 at 0.35; δ 0.7 img-1 [20,30)
      // img-2 [25,35) → 2 at 0.25.
      value: (0.75 + 0.75 + 0.5) / 3,
      perDelta: {
        '0.3': { value: 0.75, tau: 0.2 },
        '0.5': { value: 0.75, tau: 0.35 },
        '0.7': { value: 0.5, tau: 0.25 },
      },
    },
    pointingGame: 0.5, // img-1 and img-10
    tauCurve: curve([10, 0], [20, 0.25], [10, 0.5], [5, 0.75], [5, 0.5], [20, 0.25], [30, 0]),
    baselines: {
      centredBox: {
        // δ 0.5 size hits: img-1 [8,12) img-2 [10,16) img-3 [12,14) → 2 first at index 10 (0.55).
        bestSize: 0.55,
        acc: 0.5,
        // δ 0.3: img-1 [5,15) img-2 [5,18) img-3 [8,16) → 3; δ 0.7: img-2 [12,13) → 1.
        accV2: (0.75 + 0.5 + 0.25) / 3,
        energyRatio: 0.4375, // at index 10: (0.5 + 0.75 + 0.25 + 0.25) / 4
      },
      uniform: {
        energyRatio: 0.25, // the mean chance
        acc: 0.25, // img-2 only (its box is half the image)
        accV2: (0.25 + 0.25 + 0) / 3,
        pointing: 0.5, // the centre is in the boxes of img-1 and img-2
      },
    },
  },
  perClass: [
    {
      label: 1,
      className: '001.Black_footed_Albatross',
      images: 2, // img-5 failed
      meanEnergyRatio: 0.625,
      meanChance: 0.375,
      gtKnownLoc: 1, // both hit at τ 0.3
      pointingGame: 0.5,
    },
    {
      label: 2,
      className: '002.Laysan_Albatross',
      images: 3, // img-4 without a box included
      meanEnergyRatio: 0.25, // img-10 only
      meanChance: 0.125,
      gtKnownLoc: 0,
      pointingGame: 0.5,
    },
  ],
  audit: {
    // Evaluated images by energy ratio, none (all-zero map) first.
    lowestEnergyRatio: [
      { id: 'img-3', label: 2, energyRatio: null, chance: 0.125 },
      { id: 'img-10', label: 2, energyRatio: 0.25, chance: 0.125 },
      { id: 'img-2', label: 1, energyRatio: 0.5, chance: 0.5 },
      { id: 'img-1', label: 1, energyRatio: 0.75, chance: 0.25 },
    ],
    nearestProxyMismatch: [
      { id: 'img-2', label: 1, nearestLabel: 2 },
      { id: 'img-10', label: 2, nearestLabel: 1 },
    ],
    nearestProxyAccuracy: 0.6, // 3 of 5 processed
  },
  failures: [
    {
      id: 'img-5',
      uri: 's3://golden/img-5.jpg',
      label: 1,
      code: 'corrupt',
      message: 'cannot decode, "truncated"',
    },
  ],
};

const EXPECTED_CSV = [
  'id,status,label,className,uri,targetLabel,nearestLabel,score,allZero,hasBox,energyRatio,chance,insideOutside,pointing,heatmap,overlay,failureCode,failureMessage',
  'img-1,ok,1,001.Black_footed_Albatross,s3://golden/img-1.jpg,1,1,0.875,false,true,0.75,0.25,3,true,runs/golden/heatmaps/img-1.png,runs/golden/overlays/img-1.jpg,,',
  'img-2,ok,1,001.Black_footed_Albatross,s3://golden/img-2.jpg,1,2,0.5,false,true,0.5,0.5,1,false,runs/golden/heatmaps/img-2.png,,,',
  'img-3,ok,2,002.Laysan_Albatross,s3://golden/img-3.jpg,2,2,0.25,true,true,,0.125,,false,runs/golden/heatmaps/img-3.png,,,',
  'img-4,ok,2,002.Laysan_Albatross,s3://golden/img-4.jpg,2,2,0.625,false,false,,,,,runs/golden/heatmaps/img-4.png,,,',
  'img-5,failed,1,,s3://golden/img-5.jpg,,,,,,,,,,,,corrupt,"cannot decode, ""truncated"""',
  'img-10,ok,2,002.Laysan_Albatross,s3://golden/img-10.jpg,2,1,0.125,false,true,0.25,0.125,0.5,true,runs/golden/heatmaps/img-10.png,,,',
  '',
].join('\r\n');

describe('aggregator golden run: a hand-made run, the report worked out by hand', () => {
  const { env, start, waitComplete } = useAggregators();
  let t: TestEnv;
  beforeAll(() => {
    t = env();
  });

  it('writes exactly the expected report.json and images.csv', async () => {
    await seedRun(t, GOLDEN_RUN, GOLDEN_RESULTS, [GOLDEN_FAILURE], { tau: 0.3 });
    const agg = await start();
    // Every result twice: the second of each is a repeat and changes nothing.
    const jobs = [...GOLDEN_RESULTS.map((r) => okJob(GOLDEN_RUN, r)), failedJob(GOLDEN_RUN, GOLDEN_FAILURE)];
    await enqueue(t.queue, jobs, 2);
    await waitComplete(GOLDEN_RUN);
    await waitFor('all 12 deliveries', async () => agg.stats.counted + agg.stats.repeats === 12);
    expect(agg.stats).toEqual({ counted: 6, repeats: 6, reports: 1 });

    // Exact: every summed value is dyadic, so Redis adds them up without rounding.
    expect(await readReport(t.store, GOLDEN_RUN)).toEqual(EXPECTED_REPORT);
    expect((await t.store.get(storageKeys.imagesCsv(GOLDEN_RUN))).toString()).toBe(EXPECTED_CSV);
  });
});
