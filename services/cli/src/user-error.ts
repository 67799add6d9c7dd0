import { ModelSpecError, UnsupportedModelError } from '@embedcam/cam';
import { ConfigError } from '@embedcam/config';
import { DatasetError, SelectionError } from '@embedcam/datasets';
import { BadIdError, StoreMismatchError } from '@embedcam/queues';
import { InvalidKeyError, UnsupportedUriError } from '@embedcam/storage';

/** A mistake of the user's (a flag, a path, a run id), thrown by the CLI itself: one line, exit code 2. */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * The one line a user's mistake prints, or undefined for anything else (a bug, a failing disk or
 * network). Every command's errors go through here, so a command added later gets the same
 * treatment by throwing UserError or one of the input errors of the libraries.
 */
export function userMistake(err: unknown): string | undefined {
  if (err instanceof ConfigError) return `invalid configuration: ${err.issues.join('; ')}`;
  const mistake =
    err instanceof UserError ||
    err instanceof ModelSpecError ||
    err instanceof UnsupportedModelError ||
    err instanceof DatasetError ||
    err instanceof SelectionError ||
    err instanceof StoreMismatchError ||
    err instanceof UnsupportedUriError ||
    err instanceof InvalidKeyError ||
    err instanceof BadIdError;
  return mistake ? oneLine((err as Error).message) : undefined;
}

/** Messages are written for one line; any line breaks in them become "; ". */
export function oneLine(message: string): string {
  return message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('; ');
}
