import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmbedcamClient } from '@embedcam/client';
import { storageKeys } from '@embedcam/queues';
import { pipelineEnv } from '@embedcam/test-support/pipeline-env';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMBEDCAM_BIN, serviceEnv } from '../src/service-launcher.js';

/** `embedcam <args>` as a user runs it: exit code and output. */
function embedcam(args: string[], env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const p = spawn(process.execPath, [EMBEDCAM_BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b));
    p.stderr.on('data', (b: Buffer) => (stderr += b));
    p.once('error', reject);
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(!HAS_SHARED)('embedcam run with no services running', () => {
  let env: Awaited<ReturnType<typeof pipelineEnv>>;
  let tmp: string;
  let args: string[];
  let childEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    env = await pipelineEnv({ LOG_LEVEL: 'silent', RUN_NO_WORKER_GRACE_MS: 1000 });
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-cli-'));
    const manifest = path.join(tmp, 'm.jsonl');
    const img = path.join(CUB_DIR, 'images/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg');
    await writeFile(manifest, `${JSON.stringify({ id: 'img-1', uri: img, label: 1, split: 'test' })}\n`);
    const client = new EmbedcamClient(env.config);
    await client.store.put(storageKeys.proxiesMeta('p1'), '{}'); // only its presence is checked
    await client.close();
    args = ['--dataset', manifest, '--proxy-id', 'p1', '--run-id', 'r1'];
    childEnv = serviceEnv(env.config);
  });
  afterAll(async () => {
    await env?.cleanup();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('run --detach refuses with exit code 2 and says what to start; nothing is submitted', async () => {
    const r = await embedcam(['run', '--detach', ...args], childEnv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      'embedcam run --detach: nothing would process the run (no worker on the heatmaps queue, no aggregator on the ' +
        'results queue); start the services on their own (`embedcam worker`, `embedcam aggregator`, ' +
        '`embedcam proxy-builder`, with the same Redis, storage and prefix), or drop --detach.',
    );
    const local = await embedcam(['run', '--detach', '--services', 'local', ...args], childEnv);
    expect(local.code).toBe(2);
    expect(local.stderr).toMatch(/--services local starts services that stop when this command returns/);
    const status = await embedcam(['status', 'r1'], childEnv);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: 'unknown' });
  });

  it('run --services external fails with one line once the run is stalled, instead of waiting', async () => {
    const r = await embedcam(['run', '--services', 'external', ...args], childEnv);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      'embedcam: run r1 is stalled: no worker has been connected to the heatmaps queue for 1 s; ' +
        'start `embedcam worker` or run without --services external',
    );
    const status = await embedcam(['status', 'r1'], childEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      runId: 'r1',
      status: 'stalled',
      stalledReason: expect.stringMatching(/^no worker has been connected to the heatmaps queue for \d+ s/),
    });
  });
});
