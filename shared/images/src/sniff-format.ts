/** Formats embedcam decodes. Everything else is refused before it reaches libvips. */
export type SupportedFormat = 'jpeg' | 'png' | 'webp';

export type SniffResult =
  | { kind: 'supported'; format: SupportedFormat }
  | { kind: 'other'; name: string }
  | { kind: 'unknown' };

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

// Recognised but refused: libvips could open several of these (SVG, PDF even fetch or render
// external content), which is exactly why we look at the bytes ourselves first.
const OTHER: Array<[string, number[], number?]> = [
  ['GIF', ascii('GIF8')],
  ['TIFF', [0x49, 0x49, 0x2a, 0x00]],
  ['TIFF', [0x4d, 0x4d, 0x00, 0x2a]],
  ['BMP', ascii('BM')],
  ['PDF', ascii('%PDF')],
  ['JPEG 2000', [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20]],
  ['HEIF/AVIF', ascii('ftyp'), 4],
  ['SVG/XML', ascii('<?xml')],
  ['SVG', ascii('<svg')],
  ['ICO', [0x00, 0x00, 0x01, 0x00]],
];

/**
 * Identifies the container from its magic bytes, independent of any file extension
 * (datasets do contain PNGs named .jpg; those decode fine).
 */
export function sniffFormat(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { kind: 'supported', format: 'jpeg' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) {
    return { kind: 'supported', format: 'png' };
  }
  if (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) {
    return { kind: 'supported', format: 'webp' };
  }
  for (const [name, sig, at] of OTHER) if (startsWith(bytes, sig, at ?? 0)) return { kind: 'other', name };
  return { kind: 'unknown' };
}
