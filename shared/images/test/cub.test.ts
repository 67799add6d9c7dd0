import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CUB_DIR, HAS_CUB } from '@embedcam/test-support/shared-data';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, prepareForModel, readImageSize } from '../src/index.js';

const cub = HAS_CUB ? CUB_DIR : undefined;

interface Entry {
  id: number;
  file: string;
}

async function entries(dir: string): Promise<Entry[]> {
  const text = await readFile(path.join(dir, 'images.txt'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [id, rel] = l.trim().split(/\s+/);
      return { id: Number(id), file: path.join(dir, 'images', rel) };
    });
}

async function boxOf(dir: string, id: number): Promise<number[]> {
  const text = await readFile(path.join(dir, 'bounding_boxes.txt'), 'utf8');
  const line = text.split('\n').find((l) => l.startsWith(`${id} `));
  if (!line) throw new Error(`no box for image ${id}`);
  return line.trim().split(/\s+/).slice(1).map(Number);
}

describe.skipIf(!cub)('real CUB-200 images', () => {
  const dir = cub!;

  it('decodes a colour image to its stored size, with its box inside', async () => {
    const [first] = await entries(dir);
    const bytes = await readFile(first.file);
    const meta = await sharp(bytes).metadata();
    const img = await decodeImage(bytes, { label: `cub:${first.id}` });
    expect([img.width, img.height]).toEqual([meta.width, meta.height]);
    expect(img.data.length).toBe(meta.width * meta.height * 3);
    expect(await readImageSize(bytes, `cub:${first.id}`)).toEqual({ width: meta.width, height: meta.height });
    const [x, y, w, h] = await boxOf(dir, first.id);
    expect(x + w).toBeLessThanOrEqual(img.width + 1);
    expect(y + h).toBeLessThanOrEqual(img.height + 1);
    // A plain sRGB JPEG: our pipeline must add nothing to libvips' own decode.
    expect(meta.channels).toBe(3);
    const plain = await sharp(bytes).raw().toBuffer();
    expect(Buffer.compare(Buffer.from(img.data), plain)).toBe(0);
    const p = await prepareForModel(bytes, { width: 224, height: 224, label: `cub:${first.id}` });
    expect(p.original).toEqual({ width: img.width, height: img.height });
    expect(p.pixels.length).toBe(224 * 224 * 3);
  });

  it('decodes a grayscale image to RGB with equal channels', async (ctx) => {
    let found: Entry | undefined;
    for (const e of await entries(dir)) {
      if ((await sharp(e.file).metadata()).channels === 1) {
        found = e;
        break;
      }
    }
    if (!found) {
      console.warn('[images] no 1-channel image in this CUB copy; grayscale check skipped');
      ctx.skip();
      return;
    }
    const bytes = await readFile(found.file);
    const img = await decodeImage(bytes, { label: `cub:${found.id}` });
    expect(img.data.length).toBe(img.width * img.height * 3);
    let unequal = 0;
    for (let i = 0; i < img.data.length; i += 3) {
      if (img.data[i] !== img.data[i + 1] || img.data[i + 1] !== img.data[i + 2]) unequal++;
    }
    expect(unequal).toBe(0);
    const p = await prepareForModel(bytes, { width: 224, height: 224, label: `cub:${found.id}` });
    expect(p.pixels.length).toBe(224 * 224 * 3);
  });
});
