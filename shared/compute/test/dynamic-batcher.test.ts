import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BatchOutcome, ComputeClosedError, DynamicBatcher } from '../src/index.js';

interface Call {
  key: string;
  items: number[];
  finish: (outcomes?: Array<BatchOutcome<string>>) => void;
  fail: (err: Error) => void;
}

/** A runner whose batches finish when the test says so (default: value = key:item). */
function controlledRunner() {
  const calls: Call[] = [];
  const run = (key: string, items: number[]) =>
    new Promise<Array<BatchOutcome<string>>>((resolve, reject) => {
      calls.push({
        key,
        items,
        finish: (o) => resolve(o ?? items.map((i) => ({ ok: true as const, value: `${key}:${i}` }))),
        fail: reject,
      });
    });
  return { calls, run };
}

/** Lets promise callbacks run (fake timers don't advance microtasks by themselves). */
const settle = () => new Promise<void>((r) => queueMicrotask(r)).then(() => vi.advanceTimersByTimeAsync(0));

describe('DynamicBatcher', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('cuts a batch as soon as it reaches maxSize; the remainder waits for maxWait', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 3, maxWaitMs: 10_000, run });
    const results = [0, 1, 2, 3, 4, 5, 6].map((i) => b.submit('g', i));
    expect(calls.map((c) => c.items)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.items)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    for (const c of calls) c.finish();
    expect(await Promise.all(results)).toEqual(['g:0', 'g:1', 'g:2', 'g:3', 'g:4', 'g:5', 'g:6']);
    expect(b.stats()).toMatchObject({ batches: 3, items: 7, maxBatchSize: 3, pending: 0, inFlight: 0 });
    expect(b.stats().meanBatchSize).toBeCloseTo(7 / 3, 12);
  });

  it('dispatches a partial batch exactly when its first item has waited maxWaitMs', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 100, maxWaitMs: 50, run });
    const p1 = b.submit('g', 1);
    await vi.advanceTimersByTimeAsync(30);
    const p2 = b.submit('g', 2);
    await vi.advanceTimersByTimeAsync(19);
    expect(calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.items)).toEqual([[1, 2]]);
    // The next item opens a new batch with its own clock.
    const p3 = b.submit('g', 3);
    await vi.advanceTimersByTimeAsync(49);
    expect(calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3]]);
    for (const c of calls) c.finish();
    expect(await Promise.all([p1, p2, p3])).toEqual(['g:1', 'g:2', 'g:3']);
  });

  it('maxWaitMs 0 batches what arrives in the same tick', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 8, maxWaitMs: 0, run });
    const ps = [1, 2, 3].map((i) => b.submit('g', i));
    await vi.advanceTimersByTimeAsync(0);
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    calls[0].finish();
    await Promise.all(ps);
  });

  it('never mixes groups, and each submit gets its own item back', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 2, maxWaitMs: 20, run });
    const ps = [
      b.submit('a', 1),
      b.submit('b', 2),
      b.submit('a', 3), // fills a
      b.submit('b', 4), // fills b
      b.submit('c', 5),
    ];
    expect(calls.map((c) => [c.key, c.items])).toEqual([
      ['a', [1, 3]],
      ['b', [2, 4]],
    ]);
    await vi.advanceTimersByTimeAsync(20);
    expect(calls.map((c) => [c.key, c.items])).toEqual([
      ['a', [1, 3]],
      ['b', [2, 4]],
      ['c', [5]],
    ]);
    // Finish out of order: results still go to their own submitters.
    calls[2].finish();
    calls[1].finish();
    calls[0].finish();
    expect(await Promise.all(ps)).toEqual(['a:1', 'b:2', 'a:3', 'b:4', 'c:5']);
  });

  it('per-item failures reject only their submit; a failed batch rejects all of its items', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 3, maxWaitMs: 5, run });
    const bad = new Error('bad box');
    const first = [1, 2, 3].map((i) => b.submit('g', i));
    calls[0].finish([
      { ok: true, value: 'one' },
      { ok: false, error: bad },
      { ok: true, value: 'three' },
    ]);
    const s1 = await Promise.allSettled(first);
    expect(s1.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((s1[0] as PromiseFulfilledResult<string>).value).toBe('one');
    expect((s1[1] as PromiseRejectedResult).reason).toBe(bad);

    const crash = new Error('thread died');
    const second = [4, 5].map((i) => b.submit('g', i));
    await vi.advanceTimersByTimeAsync(5);
    calls[1].fail(crash);
    const s2 = await Promise.allSettled(second);
    expect(s2.map((s) => (s as PromiseRejectedResult).reason)).toEqual([crash, crash]);

    // A runner that answers with the wrong number of outcomes is a bug: every item fails with it.
    const third = [6, 7].map((i) => b.submit('g', i));
    await vi.advanceTimersByTimeAsync(5);
    calls[2].finish([{ ok: true, value: 'only one' }]);
    const s3 = await Promise.allSettled(third);
    expect(s3.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(String((s3[0] as PromiseRejectedResult).reason)).toMatch(/1 outcomes for 2 items/);
    expect(b.stats()).toMatchObject({ inFlight: 0, pending: 0, batches: 3, items: 7 });
  });

  it('with maxInFlight reached, a due batch keeps filling until a slot frees', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 4, maxWaitMs: 10, maxInFlight: 1, run });
    const ps = [1, 2, 3, 4].map((i) => b.submit('g', i)); // full: starts at once
    expect(calls).toHaveLength(1);
    ps.push(b.submit('g', 5));
    await vi.advanceTimersByTimeAsync(10); // due, but the only slot is busy
    expect(calls).toHaveLength(1);
    ps.push(b.submit('g', 6), b.submit('g', 7)); // join the due batch
    expect(b.stats()).toMatchObject({ pending: 3, inFlight: 1 });
    calls[0].finish();
    await settle();
    expect(calls.map((c) => c.items)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7],
    ]);
    ps.push(b.submit('g', 8), b.submit('g', 9)); // second batch busy: these start a new one
    calls[1].finish();
    await vi.advanceTimersByTimeAsync(10);
    expect(calls.map((c) => c.items)).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7],
      [8, 9],
    ]);
    calls[2].finish();
    expect(await Promise.all(ps)).toHaveLength(9);
  });

  it('close() runs what is queued, waits for it, and refuses new items', async () => {
    const { calls, run } = controlledRunner();
    const b = new DynamicBatcher<number, string>({ maxSize: 10, maxWaitMs: 60_000, run });
    const p = b.submit('g', 1);
    let closed = false;
    const closing = b.close().then(() => {
      closed = true;
    });
    expect(calls.map((c) => c.items)).toEqual([[1]]); // flushed without waiting 60 s
    await settle();
    expect(closed).toBe(false); // its batch is still running
    await expect(b.submit('g', 2)).rejects.toBeInstanceOf(ComputeClosedError);
    calls[0].finish();
    await closing;
    expect(closed).toBe(true);
    expect(await p).toBe('g:1');
  });

  it('validates its options', () => {
    const run = async () => [];
    expect(() => new DynamicBatcher({ maxSize: 0, maxWaitMs: 1, run })).toThrow(/maxSize/);
    expect(() => new DynamicBatcher({ maxSize: 1, maxWaitMs: -1, run })).toThrow(/maxWaitMs/);
    expect(() => new DynamicBatcher({ maxSize: 1, maxWaitMs: 1, maxInFlight: 0, run })).toThrow(
      /maxInFlight/,
    );
  });
});
