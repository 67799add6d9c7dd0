// A burst of near-limit images through a real worker: with a pixel budget, decoded images queue
// instead of multiplying memory (issue: 16 PNGs just under 100 MP drove one worker to 10.8 GB).
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { expect, it } from 'vitest';
import { startWorker } from '../src/index.js';
import { createRun, describeWithFixture, jobFor, silent } from './fixture.js';

const SIDE = 4000; // 16 MP per image
const IMAGES = 6;
/**
 * Peak bytes per decoded pixel of the image in flight, measured: the decoded RGB, the heatmap
 * upsampled to the original size (float32), the overlay blend and its JPEG encoding.
 */
const BYTES_PER_PIXEL = 24;

/** Peak RSS (MiB) above the level at the start, sampled every 20 ms while `work` runs. */
async function peakRssDuring(work: () => Promise<void>): Promise<number> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return (peak - base) / 2 ** 20;
}

describeWithFixture('heatmap worker pixel budget', (f) => {
  it('a burst of huge images stays within the pixel budget (measured RSS)', async () => {
    const dir = path.join(f.tmp, 'huge');
    await mkdir(dir, { recursive: true });
    // One compressible PNG (a gradient), copied: decoding costs the full SIDE² pixels each time.
    const first = path.join(dir, 'huge-0.png');
    await sharp({ create: { width: SIDE, height: SIDE, channels: 3, background: { r: 40, g: 120, b: 200 } } })
      .png({ compressionLevel: 1 })
      .toFile(first);
    for (let i = 1; i < IMAGES; i++) await copyFile(first, path.join(dir, `huge-${i}.png`));
    const base = f.testItems[0];
    const items = Array.from({ length: IMAGES }, (_, i) => ({
      ...base,
      id: `huge-${i}`,
      uri: path.join(dir, `huge-${i}.png`),
      bbox: [SIDE / 4, SIDE / 4, SIDE / 2, SIDE / 2] as [number, number, number, number],
    }));

    const budgetPixels = SIDE * SIDE; // one image at a time
    const run = await createRun(f, { WORKER_PIXEL_BUDGET: budgetPixels, BATCH_MAX_SIZE: IMAGES });
    const w = await startWorker(run.config, { store: f.store, log: silent, preloadModel: 'default' });
    try {
      const peakMiB = await peakRssDuring(async () => {
        await run.add(items.map((it) => jobFor(run.runId, it)));
        const results = await run.waitForResults(IMAGES, 240_000);
        expect(results.filter((r) => r.status === 'ok')).toHaveLength(IMAGES);
      });
      const boundMiB = (budgetPixels * BYTES_PER_PIXEL) / 2 ** 20;
      const allAtOnceMiB = IMAGES * boundMiB;
      console.log(
        `[pixel budget] ${IMAGES} × ${SIDE}×${SIDE} PNG, budget ${budgetPixels / 1e6} MP: peak RSS +${peakMiB.toFixed(0)} MiB ` +
          `(bound ${boundMiB.toFixed(0)} MiB; all ${IMAGES} at once would be about ${allAtOnceMiB.toFixed(0)} MiB)`,
      );
      // The budget plus slack for the allocator and the store writes: far below all at once.
      expect(peakMiB).toBeLessThan(boundMiB + 150);
    } finally {
      await w.close();
      await run.cleanup();
    }
  });
});
