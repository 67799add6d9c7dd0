import type { ImageResult } from '@embedcam/explain';
import { imageCounters, MetricsAccumulator } from '@embedcam/metrics';
import { createRedis, runKeys } from '@embedcam/queues';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  COUNT_RESULT_LUA,
  type CountInput,
  countResult,
  defineCountCommand,
  queueCountResult,
} from '../src/count-result.js';
import { buildReport, readRunState } from '../src/report.js';
import { failedRow } from '../src/rows.js';
import { okInput } from './counting.js';
import { expectClose, referenceSummary, syntheticResults, type TestEnv, testEnv } from './helpers.js';

/** The sum of the images' counters, as Redis should hold it. */
function expectedCounters(results: readonly ImageResult[]): MetricsAccumulator {
  const acc = new MetricsAccumulator();
  for (const r of results) if (r.metrics) acc.add(r.metrics);
  return acc;
}

function expectCountersEqual(redisHash: Record<string, string>, acc: MetricsAccumulator): void {
  const want = acc.toCounters();
  const got = MetricsAccumulator.fromCounters(redisHash).toCounters();
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [k, v] of Object.entries(want)) {
    if (Number.isInteger(v) && !k.includes('sum') && !k.startsWith('centredEnergy'))
      expect(got[k], k).toBe(v);
    else expect(Math.abs(got[k] - v), k).toBeLessThan(1e-9);
  }
}

describe('count-result: the exactly-once Redis script', () => {
  let t: TestEnv;
  beforeAll(async () => {
    t = await testEnv();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('counts an image once into the run, its class, the classes set and the images hash', async () => {
    const [r] = syntheticResults(1, 11);
    const k = runKeys(t.prefix, 'once');
    const input = okInput(r);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await countResult(t.redis, k, input));
    expect(outcomes).toEqual([true, false, false]);

    const one = imageCounters(r.metrics!);
    const asNumbers = (h: Record<string, string>) =>
      Object.fromEntries(Object.entries(h).map(([f, v]) => [f, Number(v)]));
    expect(asNumbers(await t.redis.hgetall(k.counters))).toEqual(one);
    expect(asNumbers(await t.redis.hgetall(k.classCounters(r.label)))).toEqual(one);
    expect(await t.redis.smembers(k.classes)).toEqual([String(r.label)]);
    expect(await t.redis.smembers(k.done)).toEqual([r.id]);
    expect(await t.redis.scard(k.failed)).toBe(0);
    expect(JSON.parse((await t.redis.hget(k.images, r.id))!)).toMatchObject({
      id: r.id,
      status: 'ok',
      label: r.label,
      className: r.className,
      nearestLabel: r.nearestLabel,
      hasBox: true,
      energyRatio: r.metrics!.energyRatio,
      chance: r.metrics!.chance,
    });
  });

  it('counts a failure once and keeps the first outcome of an image', async () => {
    const [r] = syntheticResults(1, 12);
    const k = runKeys(t.prefix, 'fail');
    const row = JSON.stringify(
      failedRow({ id: r.id, uri: r.uri, label: r.label, code: 'corrupt', message: 'bad, "really"' }),
    );
    const failed: CountInput = { status: 'failed', imageId: r.id, label: r.label, row };
    expect(await countResult(t.redis, k, failed)).toBe(true);
    expect(await countResult(t.redis, k, failed)).toBe(false);
    // A late ok for the same image does not add it a second time (and not to the metrics).
    expect(await countResult(t.redis, k, okInput(r))).toBe(false);
    expect(await t.redis.smembers(k.failed)).toEqual([r.id]);
    expect(await t.redis.scard(k.done)).toBe(1);
    expect(await t.redis.exists(k.counters, k.classes, k.classCounters(r.label))).toBe(0);
    expect(JSON.parse((await t.redis.hget(k.images, r.id))!)).toEqual({
      id: r.id,
      status: 'failed',
      uri: r.uri,
      label: r.label,
      code: 'corrupt',
      message: 'bad, "really"',
    });
  });

  it('is atomic within a MULTI: the second call of the same image counts nothing', async () => {
    const [r] = syntheticResults(1, 13);
    const k = runKeys(t.prefix, 'multi');
    const multi = t.redis.multi();
    queueCountResult(multi, k, okInput(r));
    queueCountResult(multi, k, okInput(r));
    const res = await multi.exec();
    expect(res?.map(([err, v]) => [err, v])).toEqual([
      [null, 1],
      [null, 0],
    ]);
    expectCountersEqual(await t.redis.hgetall(k.counters), expectedCounters([r]));
  });

  it('counts each image once when two clients send every image at the same time', async () => {
    const results = syntheticResults(150, 14);
    const k = runKeys(t.prefix, 'race');
    const a = createRedis(t.config.REDIS_URL!);
    const b = createRedis(t.config.REDIS_URL!);
    try {
      const inputs = results.map(okInput);
      const [fromA, fromB] = await Promise.all([
        Promise.all(inputs.map((i) => countResult(a, k, i))),
        Promise.all([...inputs].reverse().map((i) => countResult(b, k, i))),
      ]);
      const countedPerImage = inputs.map((_, i) => Number(fromA[i]) + Number(fromB[inputs.length - 1 - i]));
      expect(countedPerImage.every((c) => c === 1)).toBe(true);
      // Both clients did count some (the race was real, not one client doing everything).
      expect(fromA.some(Boolean) && fromB.some(Boolean)).toBe(true);
    } finally {
      a.disconnect();
      b.disconnect();
    }
    expect(await t.redis.scard(k.done)).toBe(150);
    expectCountersEqual(await t.redis.hgetall(k.counters), expectedCounters(results));
    for (const label of [1, 2, 3, 4, 5]) {
      expectCountersEqual(
        await t.redis.hgetall(k.classCounters(label)),
        expectedCounters(results.filter((r) => r.label === label)),
      );
    }
    // And the report from these counters is the one-process summary.
    const report = buildReport(await readRunState(t.redis, t.prefix, 'race'), { run: {} });
    expectClose(report, referenceSummary(results), 1e-9);
  });

  it('writes nothing when an argument is bad (validation happens before the first write)', async () => {
    defineCountCommand(t.redis);
    const k = runKeys(t.prefix, 'bad-args');
    const keys = [k.done, k.failed, k.counters, k.classCounters(1), k.classes, k.images];
    // One good integer counter, then a float counter that is not a number: HINCRBYFLOAT would
    // fail after SADD and HINCRBY had already run, were the script not checking first.
    const bad = [...keys, 'img', 'ok', '1', '{}', 1, 'n', '1', 'chance:sum', 'abc'];
    await expect(t.redis.eval(COUNT_RESULT_LUA, 6, ...bad)).rejects.toThrow(/not a finite number/);
    const badInt = [...keys, 'img', 'ok', '1', '{}', 2, 'n', '1', 'pointing', '1.5'];
    await expect(t.redis.eval(COUNT_RESULT_LUA, 6, ...badInt)).rejects.toThrow(/not an integer/);
    const inf = [...keys, 'img', 'ok', '1', '{}', 0, 'chance:sum', 'inf'];
    await expect(t.redis.eval(COUNT_RESULT_LUA, 6, ...inf)).rejects.toThrow(/not a finite number/);
    expect(await t.redis.exists(...keys)).toBe(0);
    // The same call with good values counts.
    const good = [...keys, 'img', 'ok', '1', '{}', 1, 'n', '1', 'chance:sum', '0.25'];
    expect(await t.redis.eval(COUNT_RESULT_LUA, 6, ...good)).toBe(1);
    expect(await t.redis.hgetall(k.counters)).toEqual({ n: '1', 'chance:sum': '0.25' });
  });
});
