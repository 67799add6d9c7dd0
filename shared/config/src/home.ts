import os from 'node:os';
import path from 'node:path';

/**
 * embedcam's own directory on this machine: EMBEDCAM_HOME (made absolute), else `~/.embedcam`. The
 * default store (`<home>/store`) and fetched datasets (`<home>/data`) live there, so every process
 * of a deployment finds the same ones whatever its current directory.
 */
export function embedcamHome(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.EMBEDCAM_HOME;
  return home ? path.resolve(home) : path.join(os.homedir(), '.embedcam');
}

/** The local store when STORAGE_URI is unset. */
export function defaultStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(embedcamHome(env), 'store');
}

/** A local store path made absolute (from the current directory); URIs (s3://, file://) are kept. */
export function absoluteStoreUri(uri: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(uri) ? uri : path.resolve(uri);
}
