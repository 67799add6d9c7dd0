import { imageCounters } from '@embedcam/metrics';
import type { ResultJob } from '@embedcam/queues';
import { UnrecoverableError } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResultIntake, parseResultJob, toCountInput } from '../src/result-intake.js';
import { okRow, parseImageResult } from '../src/rows.js';
import { captureLog } from './fakes.js';
import { syntheticResults, type TestEnv, testEnv } from './helpers.js';

const [result] = syntheticResults(1, 5);
const KEY = 'runs/r/results/img-0.json';

/** A store holding `objects`; `failWith` is thrown by every read instead. */
function store(objects: Record<string, string> = {}, failWith?: Error) {
  return {
    uri: 'mem://test',
    async getOrNull(key: string) {
      if (failWith) throw failWith;
      return key in objects ? Buffer.from(objects[key]) : null;
    },
  };
}
const attempt = (attemptsMade: number, attempts?: number) => ({ attemptsMade, opts: { attempts } });
const ok: ResultJob = { runId: 'r', imageId: result.id, status: 'ok', key: KEY, uri: result.uri, label: 3 };

describe('result intake: a result job becomes one count', () => {
  it('rejects a malformed payload for good (no retry)', () => {
    expect(parseResultJob({ runId: 'r', imageId: 'i', status: 'ok' })).toMatchObject({ runId: 'r' });
    for (const bad of [
      { runId: 'r', status: 'maybe' },
      { runId: 'bad id!', imageId: 'i', status: 'ok' },
    ]) {
      expect(() => parseResultJob(bad)).toThrow(UnrecoverableError);
    }
    expect(() => parseResultJob({ runId: 'r', imageId: '', status: 'ok' })).toThrow(/imageId is empty/);
  });

  it('reads, validates and counts a stored result', async () => {
    const input = await toCountInput(store({ [KEY]: JSON.stringify(result) }), attempt(0), ok);
    expect(input).toEqual({
      status: 'ok',
      imageId: result.id,
      label: result.label, // the stored result's label, not the job's
      row: JSON.stringify(okRow(parseImageResult(JSON.stringify(result)))),
      counters: imageCounters(result.metrics!),
    });
  });

  it('passes a worker’s failure on; an unknown label is -1 in the row', async () => {
    const f: ResultJob = {
      runId: 'r',
      imageId: 'x',
      status: 'failed',
      failure: { code: 'corrupt', message: 'm' },
    };
    const input = await toCountInput(store(), attempt(0), f);
    expect(input).toMatchObject({ status: 'failed', imageId: 'x', label: undefined });
    expect(JSON.parse(input.row)).toEqual({
      id: 'x',
      status: 'failed',
      uri: '',
      label: -1,
      code: 'corrupt',
      message: 'm',
    });
    const bare = await toCountInput(store(), attempt(0), { ...f, failure: undefined, label: 2 });
    expect(JSON.parse(bare.row)).toMatchObject({ label: 2, code: 'unknown' });
  });

  it('retries a missing result object until the last attempt, then counts it as result-missing', async () => {
    await expect(toCountInput(store(), attempt(0, 3), ok)).rejects.toThrow(
      /not found in mem:\/\/test \(attempt 1\/3\)/,
    );
    await expect(toCountInput(store(), attempt(1, 3), ok)).rejects.toThrow(/attempt 2\/3/);
    const last = await toCountInput(store(), attempt(2, 3), ok);
    expect(JSON.parse(last.row)).toMatchObject({
      code: 'result-missing',
      message: expect.stringMatching(/after 3 attempt/),
    });
    const once = await toCountInput(store(), attempt(0), ok);
    expect(JSON.parse(once.row)).toMatchObject({
      code: 'result-missing',
      message: expect.stringMatching(/after 1 attempt/),
    });
  });

  it('counts an unusable result object as invalid-result; a transient store error is retried', async () => {
    const reason = async (s: ReturnType<typeof store>, job = ok) =>
      JSON.parse((await toCountInput(s, attempt(0, 5), job)).row) as { code: string; message: string };
    expect(await reason(store({ [KEY]: '{"id": ' }))).toMatchObject({
      code: 'invalid-result',
      message: expect.stringMatching(/not JSON/),
    });
    const other = JSON.stringify({ ...result, id: 'someone-else' });
    expect((await reason(store({ [KEY]: other }))).message).toMatch(
      /holds image "someone-else", not "img-0"/,
    );
    expect((await reason(store(), { ...ok, key: undefined })).message).toMatch(/no storage key/);
    const denied = Object.assign(new Error('access denied'), { permanent: true });
    expect((await reason(store({}, denied))).message).toMatch(/cannot read .*access denied/);
    await expect(toCountInput(store({}, new Error('ECONNRESET')), attempt(0, 5), ok)).rejects.toThrow(
      /ECONNRESET/,
    );
  });

  describe('with Redis', () => {
    let t: TestEnv;
    beforeAll(async () => {
      t = await testEnv();
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    it('counts an image once: later results of it are repeats', async () => {
      const stats = { counted: 0, repeats: 0 };
      const { log } = captureLog();
      const intake = createResultIntake({
        redis: t.redis,
        prefix: t.prefix,
        store: store({ [KEY]: JSON.stringify(result) }),
        log,
        stats,
      });
      expect(await intake.count(attempt(0), ok)).toBe(true);
      expect(await intake.count(attempt(0), ok)).toBe(false);
      expect(await intake.count(attempt(0), { ...ok, status: 'failed' })).toBe(false);
      expect(stats).toEqual({ counted: 1, repeats: 2 });
      expect(await t.redis.smembers(t.keys('r').done)).toEqual([result.id]);
      expect(await t.redis.scard(t.keys('r').failed)).toBe(0);
    });
  });
});
