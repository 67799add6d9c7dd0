// Re-running a run against leftover queue state: the store is the source of truth. Real Redis,
// real service processes (proxy-builder, worker, aggregator), a local store and the S3 test server.
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { serviceEnv } from '@embedcam/cli';
import { EmbedcamClient } from '@embedcam/client';
import { deleteKeysWithPrefix, runBase, runKeys, storageKeys } from '@embedcam/queues';
import { type ObjectStore, S3Store } from '@embedcam/storage';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { s3ChildEnv, startS3Server } from '@embedcam/test-support/s3-server';
import { ServiceProcesses } from '@embedcam/test-support/service-processes';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Env = Awaited<ReturnType<typeof pipelineEnv>>;

/** A manifest of 2 train + 2 test images of classes 1 and 2, and one test image whose file is missing. */
async function writeManifest(dir: string): Promise<{ manifest: string; missing: string; spare: string }> {
  const lines: string[] = [];
  let spare = '';
  for (const [label, folder] of [
    [1, '001.Black_footed_Albatross'],
    [2, '002.Laysan_Albatross'],
  ] as const) {
    const files = (await readdir(path.join(CUB_DIR, 'images', folder))).sort().slice(0, 4);
    files.forEach((f, i) => {
      const uri = path.join(CUB_DIR, 'images', folder, f);
      spare = uri;
      lines.push(JSON.stringify({ id: `c${label}-${i}`, uri, label, split: i < 2 ? 'train' : 'test' }));
    });
  }
  const missing = path.join(dir, 'missing.jpg');
  lines.push(JSON.stringify({ id: 'missing', uri: missing, label: 1, split: 'test' }));
  const manifest = path.join(dir, 'm.jsonl');
  await writeFile(manifest, `${lines.join('\n')}\n`);
  return { manifest, missing, spare };
}

function childEnv(env: Env, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e = serviceEnv(env.config, { ...process.env, LOG_LEVEL: 'warn', COMPUTE_THREADS: '1' });
  // The manifest sits in a temp folder and names CUB images elsewhere: the operator allows them.
  return Object.assign(e, { EMBEDCAM_ALLOWED_URIS: CUB_DIR }, extra);
}

function startServices(env: NodeJS.ProcessEnv): ServiceProcesses {
  const s = new ServiceProcesses(env);
  s.start('proxy-builder');
  s.start('worker');
  s.start('aggregator');
  return s;
}

async function deleteRunObjects(store: ObjectStore, runId: string): Promise<number> {
  const keys: string[] = [];
  for await (const k of store.list(`runs/${runId}/`)) keys.push(k);
  await Promise.all(keys.map((k) => store.delete(k)));
  return keys.length;
}

const WAIT = { timeoutMs: 120_000, pollMs: 200 };

describe.skipIf(!HAS_SHARED)('re-running a run: the store decides what is done (local store)', () => {
  let envA: Env;
  let envB: Env;
  let tmp: string;
  let files: Awaited<ReturnType<typeof writeManifest>>;
  let services: ServiceProcesses | undefined;
  let clientA: EmbedcamClient;
  let clientB: EmbedcamClient;

  beforeAll(async () => {
    envA = await pipelineEnv();
    // A second directory against the same Redis and prefix: a fresh default store.
    envB = await pipelineEnv({ EMBEDCAM_PREFIX: envA.prefix });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-rerun-'));
    files = await writeManifest(tmp);
    clientA = new EmbedcamClient(envA.config);
    clientB = new EmbedcamClient(envB.config);
  });
  afterAll(async () => {
    await services?.stopAll();
    await clientA?.close();
    await clientB?.close();
    await envA?.cleanup();
    await envB?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('Redis losing the run, --retry-failed, a wiped store, and a second store against the same Redis', async () => {
    services = startServices(childEnv(envA));
    const selection = { dataset: files.manifest, proxies: 'mean' as const };
    const first = await clientA.submitRun(selection);
    expect(first).toMatchObject({ total: 5, enqueued: 5, alreadyDone: 0 });
    const { runId } = first;
    const keys = runKeys(envA.prefix, runId);
    let report = await clientA.waitForRun(runId, WAIT);
    expect(report.images).toMatchObject({ processed: 4, failed: 1 });
    // The failure is stored beside the results, and says it is permanent.
    const stored = JSON.parse((await clientA.store.get(storageKeys.result(runId, 'missing'))).toString());
    expect(stored).toMatchObject({ id: 'missing', status: 'failed', code: 'not-found', transient: false });

    // Redis loses the run: nothing is recomputed, every stored result is counted exactly once.
    await deleteKeysWithPrefix(clientA.redis, runBase(envA.prefix, runId));
    const again = await clientA.submitRun(selection);
    expect(again).toMatchObject({
      total: 5,
      enqueued: 0,
      alreadyDone: 5,
      recounted: 5,
      attempt: first.attempt,
    });
    report = await clientA.waitForRun(runId, WAIT);
    expect(report.images).toMatchObject({ processed: 4, failed: 1 });
    expect(await clientA.redis.scard(keys.done)).toBe(5);
    expect(await clientA.redis.scard(keys.failed)).toBe(1);

    // Without --retry-failed the stored failure counts as done; with it, once its cause is fixed, it is redone.
    expect(await clientA.submitRun(selection)).toMatchObject({ enqueued: 0, retried: 0, recounted: 0 });
    await copyFile(files.spare, files.missing);
    const retry = await clientA.submitRun({ ...selection, retryFailed: true });
    expect(retry).toMatchObject({ enqueued: 1, retried: 1, alreadyDone: 4 });
    expect(retry.attempt).not.toBe(first.attempt);
    report = await clientA.waitForRun(runId, WAIT);
    expect(report.images).toMatchObject({ processed: 5, failed: 0 });
    expect(await clientA.redis.scard(keys.done)).toBe(5);
    expect(await clientA.redis.scard(keys.failed)).toBe(0);

    // The store is wiped: the run starts afresh under a new attempt and completes.
    expect(await deleteRunObjects(clientA.store, runId)).toBeGreaterThan(5);
    const fresh = await clientA.submitRun(selection);
    expect(fresh).toMatchObject({ enqueued: 5, alreadyDone: 0 });
    expect(fresh.attempt).not.toBe(retry.attempt);
    report = await clientA.waitForRun(runId, WAIT);
    expect(report.images).toMatchObject({ processed: 5, failed: 0 });
    await services.stopAll();

    // The same command in a second directory (a fresh store) against the same Redis completes.
    services = startServices(childEnv(envB));
    const second = await clientB.submitRun(selection);
    expect(second).toMatchObject({ runId, enqueued: 5, alreadyDone: 0 });
    report = await clientB.waitForRun(runId, WAIT);
    expect(report.images).toMatchObject({ processed: 5, failed: 0 });
    expect(await clientB.store.exists(storageKeys.report(runId))).toBe(true);
  }, 300_000);
});

describe.skipIf(!HAS_SHARED)('re-running a run after its objects were deleted from S3', () => {
  let s3: Awaited<ReturnType<typeof startS3Server>>;
  let env: Env;
  let tmp: string;
  let services: ServiceProcesses | undefined;
  let client: EmbedcamClient;

  beforeAll(async () => {
    s3 = await startS3Server();
    env = await pipelineEnv({ STORAGE_URI: `s3://${s3.bucket}` });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-rerun-s3-'));
    client = new EmbedcamClient(env.config, new S3Store({ ...s3.connection, bucket: s3.bucket }));
  });
  afterAll(async () => {
    await services?.stopAll();
    await client?.close();
    await env?.cleanup();
    await s3?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('completes again', async () => {
    const files = await writeManifest(tmp);
    await copyFile(files.spare, files.missing);
    services = startServices(childEnv(env, s3ChildEnv(s3)));
    const selection = { dataset: files.manifest, proxies: 'mean' as const };
    const first = await client.submitRun(selection);
    expect(first).toMatchObject({ enqueued: 5 });
    await client.waitForRun(first.runId, WAIT);
    expect(await deleteRunObjects(client.store, first.runId)).toBeGreaterThan(5);
    const again = await client.submitRun(selection);
    expect(again).toMatchObject({ enqueued: 5, alreadyDone: 0 });
    const report = await client.waitForRun(first.runId, WAIT);
    expect(report.images).toMatchObject({ processed: 5, failed: 0 });
  }, 300_000);
});
