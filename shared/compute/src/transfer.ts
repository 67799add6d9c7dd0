// Buffers that cross between the pool and its threads are transferred, not copied. A transfer moves
// the whole ArrayBuffer, so what is sent must own its buffer (Node's Buffers often share a pooled
// one, sharp's too): these helpers copy only where it does not.
import type { PreparedImage } from '@embedcam/images';
import type { EmbedInput } from './protocol.js';

function ownsBuffer(a: ArrayBufferView): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

/** Encoded files and other bytes over an ArrayBuffer of their own. */
export function ownBytes(b: Uint8Array): Uint8Array {
  return ownsBuffer(b) ? b : new Uint8Array(b);
}

/** Floats (heatmaps, embeddings) over an ArrayBuffer of their own. */
export function ownFloats(a: Float32Array): Float32Array {
  return ownsBuffer(a) ? a : a.slice();
}

/** Pixels over an ArrayBuffer of their own. */
export function ownPixels(img: PreparedImage): PreparedImage {
  return ownsBuffer(img.pixels) ? img : { ...img, pixels: img.pixels.slice() };
}

/** The items with pixels and bytes that may be transferred, and those buffers. */
export function ownInputs<T extends EmbedInput>(inputs: T[]): { items: T[]; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const items = inputs.map((x): T => {
    if (!x.image && !x.bytes)
      throw new Error(`Item ${x.item?.id}: give its pixels (image) or its file (bytes).`);
    const image = x.image && ownPixels(x.image);
    const bytes = x.bytes && ownBytes(x.bytes);
    if (image) transfer.push(image.pixels.buffer as ArrayBuffer);
    if (bytes) transfer.push(bytes.buffer as ArrayBuffer);
    return { ...x, image, bytes };
  });
  return { items, transfer };
}
