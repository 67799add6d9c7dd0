import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { explainCommand } from '@embedcam/cli';
import type { ImageResult, RunSummary } from '@embedcam/explain';
import { CUB_DIR, HAS_SHARED } from '@embedcam/test-support/shared-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '..');
let tmp: string;

const base = {
  model: undefined,
  proxies: 'mean' as const,
  split: 'test',
  refSplit: 'train',
  target: 'gt',
  batchSize: 16,
  resolution: 'eval224' as const,
  tau: 0.2,
  gradient: 'auto' as const,
  overlays: true,
};

describe.skipIf(!HAS_SHARED)('embedcam explain on the shared CUB subset and MobileNetV2', () => {
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'embedcam-explain-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('mean proxies from the train split: energy ratio above chance on test images, files for every image', async () => {
    const out = path.join(tmp, 'cub');
    const summary = await explainCommand({ ...base, dataset: CUB_DIR, classes: '1-6', perClass: 5, out });
    expect(summary.images.processed).toBe(30);
    expect(summary.metrics).not.toBeNull();
    const m = summary.metrics!;
    expect(m.images).toBe(30);
    expect(m.meanEnergyRatio!).toBeGreaterThan(m.meanChance!);
    expect(m.baselines.uniform.energyRatio).toBeCloseTo(m.meanChance!, 12);

    const lines = (await readFile(path.join(out, 'results.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(30);
    const first = JSON.parse(lines[0]) as ImageResult;
    expect(first.rawMap.width * first.rawMap.height).toBe(49);
    expect(first.rawMap.data).toHaveLength(49);
    expect(first.targetLabel).toBe(first.label);
    expect((await readdir(path.join(out, 'heatmaps'))).length).toBe(30);
    expect((await readdir(path.join(out, 'overlays'))).length).toBe(30);
    const onDisk = JSON.parse(await readFile(path.join(out, 'summary.json'), 'utf8')) as RunSummary;
    expect(onDisk.metrics!.maxBoxAcc).toEqual(m.maxBoxAcc);
    expect(onDisk.perClass.map((c) => c.label)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('bad images fail alone with a reason; the rest completes', async () => {
    const cub = (await readFile(path.join(CUB_DIR, 'images.txt'), 'utf8')).trim().split('\n');
    const good = (n: number) => path.join(CUB_DIR, 'images', cub[n - 1].split(' ')[1]);
    const corrupt = path.join(tmp, 'corrupt.jpg');
    await writeFile(corrupt, (await readFile(good(2))).subarray(0, 600));
    const lines = [
      { id: 'ok-1', uri: good(2), label: 1, bbox: [139, 30, 153, 264], split: 'test' },
      { id: 'ok-2', uri: good(4), label: 1, split: 'test' },
      { id: 'corrupt', uri: corrupt, label: 1, split: 'test' },
      { id: 'missing', uri: path.join(tmp, 'nope.jpg'), label: 1, split: 'test' },
      { id: 'unknown-class', uri: good(2), label: 7, split: 'test' },
      { id: 'box-outside', uri: good(2), label: 1, bbox: [900, 900, 50, 50], split: 'test' },
      { id: 'ref-1', uri: good(1), label: 1, split: 'train' },
      { id: 'ref-2', uri: good(3), label: 1, split: 'train' },
    ];
    const manifest = path.join(tmp, 'mixed.jsonl');
    await writeFile(manifest, lines.map((l) => JSON.stringify(l)).join('\n'));
    // The manifest (in tmp) names CUB images by absolute path: their directory is allowed explicitly.
    const summary = await explainCommand({
      ...base,
      dataset: manifest,
      out: path.join(tmp, 'mixed'),
      allow: [CUB_DIR],
    });
    expect(summary.images.processed).toBe(2);
    const reasons = Object.fromEntries(summary.failures.map((f) => [f.id, f.code]));
    expect(reasons).toEqual({
      corrupt: 'corrupt',
      missing: 'not-found',
      'unknown-class': 'unknown-class',
      'box-outside': 'bad-box',
    });
    expect(summary.failures.find((f) => f.id === 'missing')!.message).toContain('nope.jpg');
    // ok-2 has no box: a heatmap, but no localization metrics.
    expect(summary.images.withBox).toBe(1);
  });

  it('the CLI (npx embedcam) exits non-zero only when nothing could be processed', async () => {
    const manifest = path.join(tmp, 'all-bad.jsonl');
    await writeFile(
      manifest,
      `${JSON.stringify({ id: 'a', uri: path.join(tmp, 'absent.jpg'), label: 1, split: 'test' })}\n${JSON.stringify({ id: 'r', uri: path.join(CUB_DIR, 'images', '001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg'), label: 1, split: 'train' })}\n`,
    );
    const bin = path.join(REPO, 'node_modules/.bin/embedcam');
    // --allow: the reference image is a CUB file outside the manifest's folder.
    const args = ['explain', '--dataset', manifest, '--allow', CUB_DIR, '--out', path.join(tmp, 'bad')];
    const err = await run(bin, args, {
      cwd: REPO,
    }).catch((e) => e);
    expect(err.code).toBe(1);
    expect(String(err.stderr)).toMatch(/No image could be processed/);
    const bad = await run(bin, ['explain', '--proxies', 'median'], { cwd: REPO }).catch((e) => e);
    expect(bad.code).not.toBe(0);
    expect(String(bad.stderr)).toMatch(/--proxies must be one of mean, single, onehot/);
  });
});
