// One store per deployment, never silently two: a running aggregator advertises its store under its
// prefix; a client or a worker given another store stops with one line naming both.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startAggregator } from '@embedcam/aggregator';
import { EmbedcamClient } from '@embedcam/client';
import { StoreMismatchError } from '@embedcam/queues';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { startWorker } from '@embedcam/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('one store per deployment', () => {
  let env: Awaited<ReturnType<typeof pipelineEnv>>;
  let other: string;
  let aggregator: Awaited<ReturnType<typeof startAggregator>>;

  beforeAll(async () => {
    env = await pipelineEnv();
    other = await mkdtemp(path.join(os.tmpdir(), 'embedcam-other-store-'));
    aggregator = await startAggregator(env.config);
  });
  afterAll(async () => {
    await aggregator?.close();
    await env?.cleanup();
    if (other) await rm(other, { recursive: true, force: true });
  });

  const mine = () => pathToFileURL(env.dir).href;
  const theirs = () => pathToFileURL(other).href;

  it('a client with another store stops naming both stores; the same store passes', async () => {
    const client = new EmbedcamClient({ ...env.config, STORAGE_URI: other });
    try {
      const err = await client.submitRun({ dataset: '/nonexistent.jsonl', proxyId: 'p' }).catch((e) => e);
      expect(err).toBeInstanceOf(StoreMismatchError);
      expect(err.message).toContain(`use the store ${mine()}`);
      expect(err.message).toContain(`this client uses ${theirs()}`);
      await expect(client.waitForRun('r-1')).rejects.toBeInstanceOf(StoreMismatchError);
      await expect(client.buildProxies({ dataset: '/x', split: 'train', scheme: 'mean' })).rejects.toThrow(
        StoreMismatchError,
      );
    } finally {
      await client.close();
    }
    const same = new EmbedcamClient(env.config);
    try {
      await expect(same.assertSameStore()).resolves.toBeUndefined();
    } finally {
      await same.close();
    }
  });

  it('a worker with another store refuses to start', async () => {
    const err = await startWorker({ ...env.config, STORAGE_URI: other }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreMismatchError);
    expect(err.message).toContain(`this worker uses ${theirs()}`);
  });
});
