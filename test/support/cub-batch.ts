import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { prepareForModel, toFloatTensorData } from '@embedcam/images';
import { CUB_DIR } from './shared-data.js';

/** The first `n` CUB images (by id) preprocessed for the shared MobileNetV2 (NHWC, x/127.5 − 1). */
export async function loadCubBatch(
  n: number,
  layout: 'nhwc' | 'nchw' = 'nhwc',
  firstId = 1,
): Promise<Float32Array> {
  const lines = (await readFile(path.join(CUB_DIR, 'images.txt'), 'utf8')).trim().split('\n');
  const out = new Float32Array(n * 224 * 224 * 3);
  for (let i = 0; i < n; i++) {
    const rel = lines[firstId - 1 + i * 7].split(' ')[1]; // spread over several classes
    const buf = await readFile(path.join(CUB_DIR, 'images', rel));
    const img = await prepareForModel(buf, { width: 224, height: 224, label: rel });
    toFloatTensorData(
      img.pixels,
      { mode: 'scale', scale: 1 / 127.5, offset: -1 },
      'rgb',
      layout,
      out,
      i * 224 * 224 * 3,
    );
  }
  return out;
}
