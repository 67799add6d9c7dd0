import {
  ComputeClosedError,
  ComputeThreadError,
  type ExplainOk,
  type ExplainOutcome,
  type ExplainRequest,
} from '@embedcam/compute';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchRunner, type WorkItem } from '../src/batch-runner.js';
import { JobFailure } from '../src/failures.js';
import { recordingLogger } from './helpers.js';

/**
 * A compute pool without a model: an image named `crash` takes its whole batch down (as a thread
 * crash does), one named `corrupt` fails alone; the others come back with their id as score.
 */
class FakePool {
  readonly batches: string[][] = [];
  readonly seen: Uint8Array[] = [];

  async explain(req: ExplainRequest): Promise<ExplainOutcome[]> {
    const ids = req.items.map((x) => x.item.id);
    this.batches.push(ids);
    this.seen.push(...req.items.map((x) => x.bytes!));
    if (ids.includes('crash')) throw new ComputeThreadError('Compute thread exited with code 70.');
    if (ids.includes('closed')) throw new ComputeClosedError();
    return ids.map((id) =>
      id === 'corrupt'
        ? { ok: false, code: 'corrupt', message: `Image ${id} is corrupt.` }
        : ({ ok: true, score: Number(id) } as unknown as ExplainOk),
    );
  }
}

function item(pool: FakePool, id: string): WorkItem {
  return {
    pool,
    proxyId: 'p',
    target: 'gt',
    resolution: 'eval224',
    overlays: false,
    input: { item: { id, uri: `/images/${id}.jpg`, label: 1 }, bytes: new Uint8Array([1, 2, 3]) },
  };
}

describe('BatchRunner', () => {
  let runner: BatchRunner;
  afterEach(() => runner.close());

  function start(maxSize = 8) {
    const rec = recordingLogger();
    runner = new BatchRunner({ maxSize, maxWaitMs: 20, threads: 1, log: rec.log });
    return rec;
  }

  it('batches concurrent submissions of a group; a failed image fails alone, as a permanent JobFailure', async () => {
    start();
    const pool = new FakePool();
    const outcomes = await Promise.allSettled(
      ['1', 'corrupt', '3'].map((id) => runner.submit('g', item(pool, id))),
    );
    expect(pool.batches).toEqual([['1', 'corrupt', '3']]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[0] as PromiseFulfilledResult<ExplainOk>).value.score).toBe(1);
    const err = (outcomes[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(JobFailure);
    expect(err).toMatchObject({ code: 'corrupt', permanent: true });
    expect(runner.stats()).toMatchObject({ batches: 1, items: 3 });
  });

  it('a batch lost to a thread crash is retried image by image: only the image that crashes fails', async () => {
    const { lines } = start();
    const pool = new FakePool();
    const outcomes = await Promise.allSettled(
      ['1', 'crash', '3'].map((id) => runner.submit('g', item(pool, id))),
    );
    expect(pool.batches).toEqual([['1', 'crash', '3'], ['1'], ['crash'], ['3']]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toBeInstanceOf(ComputeThreadError);
    expect(lines.filter((l) => /retrying its images singly/.test(l.msg))).toEqual([
      expect.objectContaining({ size: 3, err: 'Compute thread exited with code 70.' }),
    ]);
  });

  it('the thread gets copies of the files, so a retry still has them', async () => {
    start();
    const pool = new FakePool();
    const items = ['1', 'crash'].map((id) => item(pool, id));
    await Promise.allSettled(items.map((w) => runner.submit('g', w)));
    expect(pool.seen).toHaveLength(4);
    for (const bytes of pool.seen) {
      expect(bytes).toEqual(new Uint8Array([1, 2, 3]));
      expect(items.some((w) => w.input.bytes === bytes)).toBe(false);
    }
  });

  it('a crash of a single image, and any other batch error, fail the batch without a retry', async () => {
    start();
    const pool = new FakePool();
    await expect(runner.submit('a', item(pool, 'crash'))).rejects.toBeInstanceOf(ComputeThreadError);
    const closed = await Promise.allSettled(['1', 'closed'].map((id) => runner.submit('b', item(pool, id))));
    expect(closed.map((o) => o.status)).toEqual(['rejected', 'rejected']);
    expect(pool.batches).toEqual([['crash'], ['1', 'closed']]);
  });

  it('groups do not share batches; a full batch does not wait', async () => {
    start(2);
    const pool = new FakePool();
    await Promise.all([
      runner.submit('a', item(pool, '1')),
      runner.submit('b', item(pool, '2')),
      runner.submit('a', item(pool, '3')),
    ]);
    expect(pool.batches.map((b) => b.join())).toEqual(['1,3', '2']);
  });
});
