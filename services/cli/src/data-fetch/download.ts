import { open, rm, stat } from 'node:fs/promises';

/** A download that stopped before its end; the partial file is kept so the next try resumes. */
export class DownloadError extends Error {
  override name = 'DownloadError';
}

export interface DownloadProgress {
  /** Bytes on disk so far (resumed bytes included). */
  received: number;
  /** The whole size, when the server says it. */
  total?: number;
}

/**
 * Downloads `url` into `partFile`, resuming from the bytes already there (`Range`); a server that
 * ignores the range (200) or refuses it (416) restarts the file from zero. A transfer that ends
 * early throws DownloadError with the partial file kept, so running it again resumes.
 */
export async function downloadTo(
  url: string,
  partFile: string,
  onProgress: (p: DownloadProgress) => void,
): Promise<{ resumedFrom: number; bytes: number }> {
  let have = await stat(partFile).then(
    (s) => s.size,
    () => 0,
  );
  let res = await get(url, have);
  if (have > 0 && res.status === 416) {
    await rm(partFile, { force: true });
    have = 0;
    res = await get(url, 0);
  }
  if (res.status !== 200 && res.status !== 206)
    throw new DownloadError(`${url} answered HTTP ${res.status} ${res.statusText}`.trim());
  const resumed = res.status === 206 ? have : 0;
  const length = Number(res.headers.get('content-length') ?? Number.NaN);
  const total = Number.isFinite(length) ? resumed + length : undefined;
  let received = resumed;
  onProgress({ received, total });
  if (!res.body) throw new DownloadError(`${url} sent no body`);
  const body = res.body as unknown as AsyncIterable<Uint8Array>;
  // Each chunk is on disk before the next is read, so a transfer cut at any point keeps every byte
  // it delivered (a pipeline would drop what its write stream still buffered).
  const fh = await open(partFile, resumed > 0 ? 'a' : 'w');
  try {
    for await (const chunk of body) {
      await fh.write(chunk);
      received += chunk.length;
      onProgress({ received, total });
    }
  } catch (err) {
    throw new DownloadError(
      `the download from ${url} stopped at ${received} of ${total ?? '?'} bytes (${(err as Error).message}); run the command again to resume`,
    );
  } finally {
    await fh.close();
  }
  if (total !== undefined && received < total)
    throw new DownloadError(
      `the download from ${url} stopped at ${received} of ${total} bytes; run the command again to resume`,
    );
  return { resumedFrom: resumed, bytes: received };
}

async function get(url: string, from: number): Promise<Response> {
  try {
    return await fetch(url, { headers: from > 0 ? { range: `bytes=${from}-` } : {}, redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new DownloadError(
      `cannot reach ${url} (${cause?.code ?? cause?.message ?? (err as Error).message}); check the network, or pass --url <mirror> or --file <archive>`,
    );
  }
}
