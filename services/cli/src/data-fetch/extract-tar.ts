import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';

const BLOCK = 512;

/** A tar archive that cannot be extracted safely or is damaged. */
export class ArchiveError extends Error {
  override name = 'ArchiveError';
}

function field(h: Buffer, start: number, len: number): string {
  const raw = h.subarray(start, start + len);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? len : end).toString('utf8');
}

function octal(h: Buffer, start: number, len: number): number {
  const text = field(h, start, len).trim();
  const n = text === '' ? 0 : Number.parseInt(text, 8);
  if (!Number.isFinite(n)) throw new ArchiveError(`bad size field "${text}" in a tar header`);
  return n;
}

/** "len key=value\n" records of a pax header: only `path` matters here. */
function paxPath(data: Buffer): string | undefined {
  let found: string | undefined;
  for (const rec of data.toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) found = m[1];
  }
  return found;
}

/** A member's path inside `dest`, or an error for absolute paths and `..` (no writing outside). */
function safeTarget(dest: string, name: string): string {
  const clean = name.replace(/^\.\//, '');
  if (path.isAbsolute(clean) || clean.split('/').includes('..'))
    throw new ArchiveError(`the archive member "${name}" would land outside the target directory`);
  return path.join(dest, clean);
}

/**
 * Extracts a .tgz into `dest` (created): regular files and directories (ustar, GNU long names, pax
 * paths); links and devices are skipped, never followed. Streams, so a 1.1 GB archive needs little
 * memory. Returns the number of files written.
 */
export async function extractTgz(archive: string, dest: string): Promise<number> {
  await mkdir(dest, { recursive: true });
  let buf: Buffer = Buffer.alloc(0);
  let files = 0;
  let longName: string | undefined;
  let ended = false;
  // The member being read: its remaining bytes, padding, and where its data goes.
  let remaining = 0;
  let padding = 0;
  let sink: { write(b: Buffer): Promise<void>; close(): Promise<void> } | undefined;
  let meta: Buffer[] | undefined;
  let metaKind: 'L' | 'x' | undefined;

  const gunzip = createReadStream(archive).pipe(createGunzip());
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (!ended) {
        if (remaining > 0) {
          if (buf.length === 0) break;
          const take = buf.subarray(0, Math.min(remaining, buf.length));
          buf = buf.subarray(take.length);
          remaining -= take.length;
          if (sink) await sink.write(take);
          else meta?.push(Buffer.from(take));
          if (remaining > 0) break;
          if (sink) {
            await sink.close();
            sink = undefined;
            files++;
          }
          if (meta) {
            const data = Buffer.concat(meta);
            if (metaKind === 'L') longName = field(data, 0, data.length);
            else {
              const p = paxPath(data);
              if (p !== undefined) longName = p;
            }
            meta = undefined;
          }
        }
        if (padding > 0) {
          if (buf.length < padding) {
            padding -= buf.length;
            buf = Buffer.alloc(0);
            break;
          }
          buf = buf.subarray(padding);
          padding = 0;
        }
        if (buf.length < BLOCK) break;
        const h = buf.subarray(0, BLOCK);
        buf = buf.subarray(BLOCK);
        if (h.every((b) => b === 0)) {
          ended = true;
          break;
        }
        const size = octal(h, 124, 12);
        const type = String.fromCharCode(h[156] ?? 0);
        const prefix = field(h, 257, 6).startsWith('ustar') ? field(h, 345, 155) : '';
        const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
        if (type !== 'L' && type !== 'x') longName = undefined;
        remaining = size;
        padding = (BLOCK - (size % BLOCK)) % BLOCK;
        if (type === 'L' || type === 'x') {
          meta = [];
          metaKind = type;
        } else if (type === '0' || type === '\0' || type === '7') {
          const target = safeTarget(dest, name);
          await mkdir(path.dirname(target), { recursive: true });
          const fh = await open(target, 'w');
          sink = {
            write: async (b) => {
              await fh.write(b);
            },
            close: () => fh.close(),
          };
          if (size === 0) {
            await sink.close();
            sink = undefined;
            files++;
          }
        } else if (type === '5') {
          await mkdir(safeTarget(dest, name), { recursive: true });
        } else meta = undefined; // links, devices, global pax headers: skipped (their data too)
        if (remaining === 0 && meta) {
          meta = undefined;
        }
      }
    }
  } catch (err) {
    await sink?.close().catch(() => {});
    if (err instanceof ArchiveError) throw err;
    throw new ArchiveError(`cannot read ${archive} as a .tgz archive (${(err as Error).message})`);
  }
  if (remaining > 0 || !ended) {
    await sink?.close().catch(() => {});
    throw new ArchiveError(`${archive} ends in the middle of the archive (truncated)`);
  }
  return files;
}
