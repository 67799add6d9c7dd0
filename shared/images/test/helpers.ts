import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { expect } from 'vitest';
import { ImageError, type ImageErrorCode } from '../src/index.js';

/** Raw RGB(A) bytes → a sharp pipeline, for building test images in memory. */
export function fromRaw(data: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4) {
  return sharp(data, { raw: { width, height, channels } });
}

export function solid(width: number, height: number, rgb: [number, number, number]) {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
}

/** Deterministic pseudo-random bytes (no Math.random: failures must reproduce). */
export function noise(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0;
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

export function pixel(data: Uint8Array, width: number, x: number, y: number): number[] {
  const i = (y * width + x) * 3;
  return [data[i], data[i + 1], data[i + 2]];
}

/** Rewrites a PNG's IHDR size (and CRC): a header that promises far more pixels than the file holds. */
export function forgePngSize(png: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(png);
  // Signature (8) + length (4) + "IHDR" (4), then width and height; CRC covers type + data (17 bytes).
  out.writeUInt32BE(width, 16);
  out.writeUInt32BE(height, 20);
  out.writeUInt32BE(crc32(out.subarray(12, 29)), 29);
  return out;
}

export async function expectImageError(
  promise: Promise<unknown>,
  code: ImageErrorCode,
  label: string,
): Promise<ImageError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImageError);
  const ie = err as ImageError;
  expect(ie.code).toBe(code);
  expect(ie.permanent).toBe(true);
  expect(ie.label).toBe(label);
  expect(ie.message).toContain(label);
  expect(ie.message).toBe(`Image ${label}: ${ie.problem}; ${ie.fix}`);
  expect(ie.fix.length).toBeGreaterThan(10);
  return ie;
}
