// A machine with nothing beside the repository: no ../shared, an empty EMBEDCAM_HOME. `embedcam run`
// says what to do in one line (exit 2); after `embedcam data fetch cub --file <archive>` (an archive
// of the CUB layout, built here from the shared subset's files), `embedcam run --limit 20` completes
// with the bundled model. Real Redis, real services, real images.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_REDIS_URL } from '@embedcam/test-support/pipeline-env';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.join(import.meta.dirname, '..', 'services', 'cli', 'bin', 'embedcam.js');

describe.skipIf(!HAS_SHARED)('from a bare machine to a first audit', { timeout: 300_000 }, () => {
  let tmp: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-bare-'));
    env = {
      ...process.env,
      EMBEDCAM_HOME: path.join(tmp, 'home'),
      EMBEDCAM_SHARED_DIR: path.join(tmp, 'no-shared'),
      REDIS_URL: TEST_REDIS_URL,
      EMBEDCAM_PREFIX: `tbare${process.pid}`,
      STORAGE_URI: '',
      LOG_LEVEL: 'warn',
    };
    execFileSync('tar', [
      'czf',
      path.join(tmp, 'cub.tgz'),
      '-C',
      path.dirname(CUB_DIR),
      `--transform=s,^${path.basename(CUB_DIR)},CUB_200_2011,`,
      path.basename(CUB_DIR),
    ]);
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  const embedcam = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  it('run: one line naming the command; fetch --file; run --limit 20 on the bundled model', async () => {
    const none = await embedcam(['run']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe(
      'embedcam: no dataset: run `embedcam data fetch cub` to download CUB-200-2011 (1.1 GB), or pass --dataset <dir|manifest>\n',
    );
    const fetched = await embedcam(['data', 'fetch', 'cub', '--file', path.join(tmp, 'cub.tgz')]);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toBe(`${path.join(tmp, 'home', 'data', 'CUB_200_2011')}\n`);
    const run = await embedcam(['run', '--limit', '20', '--json']);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.images.processed).toBe(20);
    expect(report.images.failed).toBe(0);
    // The bundled ONNX model, and the store under EMBEDCAM_HOME.
    expect(JSON.stringify(report)).toContain('mobilenetv2-035-imagenet-gap-onnx');
  });
});
