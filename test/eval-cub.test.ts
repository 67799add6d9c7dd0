import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');

describe.skipIf(!HAS_SHARED)('npm run eval:cub -- --reduced (the evaluation CI runs)', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-eval-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('trains a head, runs every row through the pipeline and writes the table, JSON and figure', async () => {
    const docs = path.join(tmp, 'docs');
    await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/eval-cub.ts', '--reduced', '--out', path.join(tmp, 'out'), '--docs', docs],
      { cwd: REPO, env: { ...process.env, LOG_LEVEL: 'warn' }, timeout: 600_000 },
    );
    const md = await readFile(path.join(docs, 'results-reduced.md'), 'utf8');
    const tableRows = md.split('\n').filter((l) => /^\| (EmbeddingCAM|Grad-CAM|Control|Baseline)/.test(l));
    expect(tableRows).toHaveLength(9);
    for (const row of tableRows.slice(0, 7))
      expect(row).toMatch(
        /^\| [^|]+ \| \d\.\d{3} \(\d\.\d{3}\) \| [\d.]+ \| [\d.]+ \| [\d.]+ \(τ=[\d.]+\) \|/,
      );
    const json = JSON.parse(await readFile(path.join(docs, 'results-reduced.json'), 'utf8'));
    expect(json.rows.map((r: { key: string }) => r.key)).toEqual([
      'main',
      'single',
      'bare',
      'gradcam',
      'random',
      'channel-mean',
      'main-14x14',
    ]);
    // Every row explained the same 12 images (classes 5–7, 4 per class) with nothing lost.
    for (const r of json.rows)
      expect(r.images).toEqual({ selected: 12, processed: 12, failed: 0, withBox: 12 });
    // The numbers in the Markdown are the JSON's.
    const main = json.rows[0].metrics;
    expect(tableRows[0]).toContain(`| ${main.meanEnergyRatio.toFixed(3)} (${main.meanChance.toFixed(3)}) |`);
    expect(json.training.recall.head.ks).toEqual([1, 2, 4, 8]);
    expect((await stat(path.join(docs, 'figures/cub-best-worst.png'))).size).toBeGreaterThan(10_000);
  }, 600_000);
});
