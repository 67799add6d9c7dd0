import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { embedcamHome } from '@embedcam/config';
import { UserError } from '../user-error.js';
import { type DownloadProgress, downloadTo } from './download.js';
import { extractTgz } from './extract-tar.js';
import { md5File } from './md5-file.js';

/** The official CUB-200-2011 archive at Caltech (about 1.1 GB). */
export const CUB_URL = 'https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz';
export const CUB_MD5 = '97eceeb196236b17998738112f37df78';
/** The archive's top-level directory, and where it ends up under `<EMBEDCAM_HOME>/data`. */
const CUB_TOP = 'CUB_200_2011';

export interface FetchCubOptions {
  /** A mirror instead of Caltech. */
  url?: string;
  /** An archive already on disk instead of a download. */
  file?: string;
  /** The expected MD5 (default: the official archive's). */
  md5?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (p: DownloadProgress) => void;
  /** One line of news for the user (stderr). */
  say?: (line: string) => void;
}

/**
 * Gets CUB-200-2011 into `<EMBEDCAM_HOME>/data/CUB_200_2011` and returns that path: downloads the
 * archive (resuming a partial one) to `<EMBEDCAM_HOME>/downloads`, checks its MD5, extracts it next
 * to the target and renames it into place, so a half-extracted tree is never taken for a dataset.
 */
export async function fetchCub(o: FetchCubOptions = {}): Promise<string> {
  const home = embedcamHome(o.env);
  const say = o.say ?? (() => {});
  const target = path.join(home, 'data', CUB_TOP);
  const expected = (o.md5 ?? CUB_MD5).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(expected)) throw new UserError(`--md5 "${o.md5}" is not 32 hex digits`);
  const downloads = path.join(home, 'downloads');
  await writableDir(downloads);
  await writableDir(path.dirname(target));

  let archive: string;
  if (o.file) {
    archive = path.resolve(o.file);
    if (!existsSync(archive))
      throw new UserError(`--file ${archive}: no such file; pass the path of CUB_200_2011.tgz`);
    const actual = await md5File(archive);
    // A file the user hands in is theirs to vouch for: a different MD5 is news, not a refusal,
    // unless they asked for a specific one with --md5.
    if (actual !== expected) {
      if (o.md5)
        throw new UserError(`--file ${archive}: its MD5 is ${actual}, not ${expected}; check the file`);
      say(
        `note: ${archive} is not the official archive (MD5 ${actual}, official ${CUB_MD5}); extracting it anyway`,
      );
    }
  } else {
    const url = o.url ?? CUB_URL;
    archive = path.join(downloads, `${CUB_TOP}.tgz`);
    const part = `${archive}.part`;
    if (existsSync(archive) && (await md5File(archive)) === expected)
      say(`using the archive already downloaded: ${archive}`);
    else {
      await rm(archive, { force: true });
      const { resumedFrom } = await downloadTo(url, part, o.onProgress ?? (() => {}));
      if (resumedFrom > 0) say(`resumed a partial download at ${resumedFrom} bytes`);
      const actual = await md5File(part);
      if (actual !== expected) {
        // A damaged file never resumes into a good one: start over next time.
        await rm(part, { force: true });
        throw new Error(
          `the download from ${url} has MD5 ${actual}, not ${expected}; the file was removed: run the command again, or pass --url <mirror>`,
        );
      }
      await rename(part, archive);
    }
  }

  const staging = path.join(path.dirname(target), `.${CUB_TOP}.extracting-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  try {
    await extractTgz(archive, staging);
    const top = path.join(staging, CUB_TOP);
    if (!existsSync(path.join(top, 'images.txt')))
      throw new UserError(
        `${archive} does not hold ${CUB_TOP}/images.txt: it is not the CUB-200-2011 archive; pass the right --file or --url`,
      );
    await rm(target, { recursive: true, force: true });
    await rename(top, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return target;
}

/** Creates `dir` or stops with one line saying it cannot be written and what to do. */
async function writableDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const probe = path.join(dir, `.write-test-${process.pid}`);
    await mkdir(probe);
    await rm(probe, { recursive: true });
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new UserError(
      `cannot write to ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): set EMBEDCAM_HOME to a writable directory`,
    );
  }
}
