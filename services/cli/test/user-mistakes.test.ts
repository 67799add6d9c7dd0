// Each user mistake: exit code 2, one line on stderr naming what was wrong and what to do, no stack.
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TEST_REDIS_URL } from '@embedcam/test-support/pipeline-env';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = path.join(import.meta.dirname, '..', 'bin', 'embedcam.js');
const ROOT_VERSION = (await import('../../../package.json', { with: { type: 'json' } })).default.version;

let home: string;
let manifest: string;

function embedcam(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      ...process.env,
      EMBEDCAM_HOME: home,
      EMBEDCAM_SHARED_DIR: path.join(home, 'no-shared'),
      REDIS_URL: TEST_REDIS_URL,
      EMBEDCAM_PREFIX: `tmistake${process.pid}`,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

/** Exit code 2 and exactly one line on stderr, with no stack frame in it. */
function expectMistake(r: { code: number | null; stderr: string }, pattern: RegExp) {
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^embedcam: [^\n]+\n$/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr).toMatch(pattern);
}

describe('embedcam: user mistakes', { timeout: 120_000 }, () => {
  beforeAll(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'embedcam-mistakes-'));
    manifest = path.join(home, 'm.jsonl');
    await writeFile(
      manifest,
      [1, 2, 3]
        .map((l) => JSON.stringify({ id: `i${l}`, uri: `img${l}.jpg`, label: l, split: 'test' }))
        .join('\n'),
    );
  });
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('--version prints the version', async () => {
    const r = await embedcam(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${ROOT_VERSION}\n`);
  });

  it('no dataset anywhere: names the command to run', async () => {
    expectMistake(await embedcam(['run']), /no dataset: run `embedcam data fetch cub`/);
  });

  it('a mistyped flag: the suggestion, not the help page', async () => {
    const r = await embedcam(['run', '--limt', '3']);
    expectMistake(r, /^embedcam: unknown option '--limt' \(did you mean --limit\?\)\n$/);
    expect(r.stdout).toBe('');
  });

  it('a bad environment variable names it', async () => {
    expectMistake(
      await embedcam(['status', 'r1'], { WORKER_CONCURRENCY: 'many' }),
      /invalid configuration: WORKER_CONCURRENCY must be an integer \(got "many"\)/,
    );
  });

  it('a directory as --model', async () => {
    expectMistake(
      await embedcam(['explain', '--dataset', manifest, '--model', home, '--out', path.join(home, 'out')]),
      /Model spec .*: cannot read the file \(EISDIR\); pass --model <spec.json>/,
    );
  });

  it('--classes out of range lists the available range', async () => {
    expectMistake(
      await embedcam([
        'explain',
        '--dataset',
        manifest,
        '--classes',
        '1-999',
        '--out',
        path.join(home, 'out'),
      ]),
      /class range "1-999" asks for classes the dataset does not have \(4-999\); its classes are 1-3/,
    );
  });

  it('status of an unknown run exits non-zero', async () => {
    const r = await embedcam(['status', 'no-such-run']);
    expectMistake(r, /run no-such-run is unknown to this Redis/);
    expect(JSON.parse(r.stdout)).toMatchObject({ runId: 'no-such-run', status: 'unknown' });
  });

  it('report of an unknown run', async () => {
    expectMistake(await embedcam(['report', 'no-such-run']), /run no-such-run has no report in file:\/\//);
  });

  it('--verbose adds the stack', async () => {
    const r = await embedcam(['report', 'no-such-run', '--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
