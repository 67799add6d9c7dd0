import { readFile } from 'node:fs/promises';
import type { ModelSpec } from '@embedcam/cam';
import type { DatasetItem } from '@embedcam/datasets';
import { type PreparedImage, prepareForModel, toFloatTensorData } from '@embedcam/images';
import { classifyFailure } from '@embedcam/queues/failures';

export type ReadImage = (uri: string) => Promise<Buffer>;

/** Reads local paths and file:// URIs; the pipeline passes a storage-backed reader instead. */
export const readLocalImage: ReadImage = (uri) => readFile(uri.startsWith('file://') ? new URL(uri) : uri);

export interface LoadedItem {
  item: DatasetItem;
  image: PreparedImage;
  /** The encoded file, kept for overlays on the original image. */
  bytes: Buffer;
}

export interface FailedItem {
  item: DatasetItem;
  /** Short machine-readable reason, e.g. "corrupt", "not-found", "bad-box", "unknown-class". */
  code: string;
  message: string;
}

/** Turns any per-image error into a failure record (the run goes on); see classifyFailure. */
export function toFailure(item: DatasetItem, err: unknown): FailedItem {
  const { code, message } = classifyFailure(err, item);
  return { item, code, message };
}

/** Decodes and resizes a set of items concurrently (sharp runs on libuv's thread pool). */
export async function loadItems(
  items: DatasetItem[],
  spec: ModelSpec,
  read: ReadImage,
): Promise<{ loaded: LoadedItem[]; failed: FailedItem[] }> {
  const settled = await Promise.all(
    items.map(async (item) => {
      try {
        const bytes = await read(item.uri);
        const image = await prepareForModel(bytes, {
          width: spec.input.width,
          height: spec.input.height,
          label: `image ${item.id} (${item.uri})`,
        });
        return { item, image, bytes };
      } catch (err) {
        return toFailure(item, err);
      }
    }),
  );
  const loaded: LoadedItem[] = [];
  const failed: FailedItem[] = [];
  for (const s of settled) 'image' in s ? loaded.push(s) : failed.push(s);
  return { loaded, failed };
}

/** Packs prepared images into one preprocessed input tensor in the backbone's layout. */
export function packBatch(images: PreparedImage[], spec: ModelSpec, layout: 'nhwc' | 'nchw'): Float32Array {
  const size = spec.input.width * spec.input.height * 3;
  const out = new Float32Array(images.length * size);
  images.forEach((img, i) => {
    toFloatTensorData(img.pixels, spec.input.preprocess, spec.input.channelOrder, layout, out, i * size);
  });
  return out;
}
