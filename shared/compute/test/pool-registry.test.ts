import { recordingLogger } from '@embedcam/test-support/logger';
import { describe, expect, it } from 'vitest';
import {
  type ComputePool,
  type ComputePoolOptions,
  type PoolEvent,
  PoolRegistry,
  PoolStartError,
} from '../src/index.js';

const config = { EMBEDCAM_ENGINE: undefined, EMBEDCAM_TF_BACKEND: 'cpu', COMPUTE_THREADS: 2 } as const;

/** A pool without threads or model: what the registry reads of a ComputePool. */
function fakePool(opts: ComputePoolOptions, closed: string[]): ComputePool {
  return {
    info: { name: `${opts.model}-net`, runtime: `${opts.engine ?? 'tfjs'}-cpu`, fingerprint: 'fp', dim: 8 },
    threads: opts.threads,
    stats: () => ({
      threads: 2,
      ready: 2,
      busy: 0,
      queued: 0,
      batches: 1,
      images: 4,
      crashes: 0,
      computeMs: 9,
    }),
    close: async () => void closed.push(opts.model),
  } as unknown as ComputePool;
}

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

/** A registry whose pools start at once; models named `bad…` or `flaky…` fail to load. */
function registry(engine?: 'tfjs' | 'onnx') {
  const starts: ComputePoolOptions[] = [];
  const closed: string[] = [];
  const rec = recordingLogger();
  const pools = new PoolRegistry({
    config: { ...config, EMBEDCAM_ENGINE: engine },
    log: rec.log,
    crashOnItemId: 'poison',
    start: async (o) => {
      starts.push(o);
      if (o.model.startsWith('bad')) throw named('ModelSpecError', `${o.model}: no such spec`);
      if (o.model.startsWith('unsupported')) throw named('UnsupportedModelError', 'no gradients');
      if (o.model.startsWith('flaky')) throw new Error('out of memory');
      return fakePool(o, closed);
    },
  });
  return { pools, starts, closed, lines: rec.lines };
}

describe('PoolRegistry', () => {
  it('keys a model by its engine, defaulting to the service’s EMBEDCAM_ENGINE', () => {
    expect(registry().pools.key('default')).toBe('["default",null]');
    expect(registry('onnx').pools.key('default')).toBe('["default","onnx"]');
    expect(registry('onnx').pools.key('default', 'tfjs')).toBe('["default","tfjs"]');
  });

  it('starts one pool per key with the service’s settings, shared by every job', async () => {
    const { pools, starts } = registry();
    const [a, b] = await Promise.all([pools.get(pools.key('default')), pools.get(pools.key('default'))]);
    expect(a).toBe(b);
    const c = await pools.get(pools.key('default', 'onnx'));
    expect(c).not.toBe(a);
    expect(starts.map((s) => [s.model, s.engine])).toEqual([
      ['default', undefined],
      ['default', 'onnx'],
    ]);
    expect(starts[0]).toMatchObject({ tfBackend: 'cpu', threads: 2, crashOnItemId: 'poison' });
    expect(pools.stats().map((s) => [s.model, s.runtime, s.images])).toEqual([
      ['default', 'tfjs-cpu', 4],
      ['default', 'onnx-cpu', 4],
    ]);
  });

  it('a model that cannot work fails permanently (bad-model) and is not restarted for every job', async () => {
    const { pools, starts } = registry();
    for (const model of ['bad.json', 'bad.json', 'unsupported.json']) {
      const err = await pools.get(pools.key(model)).catch((e) => e);
      expect(err).toBeInstanceOf(PoolStartError);
      expect(err).toMatchObject({ code: 'bad-model', permanent: true });
      expect(err.message).toMatch(new RegExp(`^Model ${model}: `));
    }
    expect(starts.map((s) => s.model)).toEqual(['bad.json', 'unsupported.json']);
    expect(pools.stats()).toEqual([]);
  });

  it('any other load error is transient (model-load): the next job tries again', async () => {
    const { pools, starts } = registry();
    for (let i = 0; i < 2; i++) {
      await expect(pools.get(pools.key('flaky'))).rejects.toMatchObject({
        code: 'model-load',
        permanent: false,
        message: 'Model flaky: out of memory',
      });
    }
    expect(starts).toHaveLength(2);
  });

  it('logs thread events with the model they belong to', async () => {
    const { pools, starts, lines } = registry();
    await pools.get(pools.key('default'));
    const events: PoolEvent[] = [
      { type: 'thread-exit', thread: 1, code: 70, lostBatch: true },
      { type: 'thread-error', thread: 1, error: new Error('boom') },
      { type: 'restart-failed', thread: 1, error: new Error('no memory'), retryInMs: 2000 },
      { type: 'thread-restarted', thread: 1 },
    ];
    for (const e of events) starts[0].onEvent!(e);
    expect(lines.filter((l) => l.thread === 1).map((l) => [l.level, l.msg, l.model])).toEqual([
      [50, 'compute thread died', 'default'],
      [50, 'compute thread error', 'default'],
      [50, 'restart failed', 'default'],
      [30, 'compute thread restarted', 'default'],
    ]);
    expect(lines.find((l) => l.msg === 'compute thread died')).toMatchObject({ code: 70, lostBatch: true });
  });

  it('close() closes every pool that started and ignores those that failed', async () => {
    const { pools, closed } = registry();
    await pools.get(pools.key('default'));
    await pools.get(pools.key('bad')).catch(() => {});
    await pools.close();
    expect(closed).toEqual(['default']);
  });
});
