/**
 * Decode + resize cost on real CUB images (not a test: timings vary by machine).
 * Run: npx tsx shared/images/bench/prepare-cub.ts [count]
 */
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CUB_DIR } from '@embedcam/test-support/shared-data';
import { decodeImage, prepareForModel, type ResizeFilter, resizeBilinear } from '../src/index.js';

const cub = CUB_DIR;
const count = Number(process.argv[2] ?? 300);

const list = (await readFile(path.join(cub, 'images.txt'), 'utf8'))
  .trim()
  .split('\n')
  .slice(0, count)
  .map((l) => path.join(cub, 'images', l.trim().split(/\s+/)[1]));
const files = await Promise.all(list.map((f) => readFile(f)));
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function timeIt(name: string, fn: (b: Buffer, i: number) => Promise<unknown>, concurrency = 1) {
  for (const b of files.slice(0, 10)) await fn(b, 0); // warm-up
  const t0 = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < files.length) {
        const i = next++;
        await fn(files[i], i);
      }
    }),
  );
  const total = ms(t0);
  console.log(
    `${name.padEnd(46)} ${(total / files.length).toFixed(2)} ms/image  (${((files.length / total) * 1000).toFixed(0)} images/s)`,
  );
}

console.log(
  `${files.length} CUB images, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4}`,
);
await timeIt('decodeImage', (b) => decodeImage(b, { label: 'bench' }));
for (const filter of ['bilinear', 'bilinear-antialias'] as ResizeFilter[]) {
  await timeIt(`prepareForModel 224×224 ${filter}`, (b) =>
    prepareForModel(b, { width: 224, height: 224, label: 'bench', filter }),
  );
}
await timeIt(
  'prepareForModel 224×224 bilinear, 4 in flight',
  (b) => prepareForModel(b, { width: 224, height: 224, label: 'bench' }),
  4,
);
const decoded = await Promise.all(files.slice(0, 50).map((b) => decodeImage(b, { label: 'bench' })));
for (const filter of ['bilinear', 'bilinear-antialias'] as ResizeFilter[]) {
  const t0 = process.hrtime.bigint();
  for (const d of decoded) resizeBilinear(d.data, d.width, d.height, 3, 224, 224, filter);
  console.log(
    `${`resizeBilinear only (JS, main thread) ${filter}`.padEnd(46)} ${(ms(t0) / decoded.length).toFixed(2)} ms/image`,
  );
}
