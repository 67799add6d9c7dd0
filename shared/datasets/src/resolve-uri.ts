import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Remote schemes passed through untouched; storage code downstream knows how to fetch them. */
export const REMOTE_SCHEMES = ['s3:', 'http:', 'https:'] as const;

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//;

/**
 * Resolves a manifest uri: remote URIs kept as-is, `file://` turned into a path, relative paths
 * resolved against `baseDir` (the manifest's directory) so manifests can move with their images.
 * Returns an error string for unsupported schemes so the caller can attach file and line.
 */
export function resolveUri(uri: string, baseDir: string): { uri: string } | { error: string } {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return { uri: path.resolve(baseDir, uri) };
  if (scheme === 'file') {
    try {
      return { uri: fileURLToPath(uri) };
    } catch (err) {
      return { error: `uri "${uri}" is not a valid file:// URL (${(err as Error).message})` };
    }
  }
  if ((REMOTE_SCHEMES as readonly string[]).includes(`${scheme}:`)) return { uri };
  return { error: `uri scheme "${scheme}://" is not supported` };
}
