import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HAS_MODEL } from '@embedcam/test-support/shared-data';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const smoke = fileURLToPath(new URL('./support/pool-smoke.ts', import.meta.url));
const binLike = fileURLToPath(new URL('./support/bin-like.mjs', import.meta.url));

// The compute threads load TypeScript through thread-entry.mjs; this must work however the main
// thread got tsx (vitest itself is covered by compute-pool.test.ts).
describe.skipIf(!HAS_MODEL)('compute threads start from TypeScript in every way embedcam is run', () => {
  it.each([
    ['like the embedcam bin (tsx/esm/api register())', [binLike, smoke]],
    ['under tsx (node --import tsx)', ['--import', 'tsx', smoke]],
  ])('%s', async (_name, args) => {
    const { stdout } = await run(process.execPath, args, { cwd: process.cwd(), timeout: 60_000 });
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      ok: true,
      runtime: expect.stringMatching(/^tfjs-/),
      dim: 1280,
      n: 1280,
    });
  });
});
