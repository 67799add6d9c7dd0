// One key grammar for every store, checked before any I/O: keys that are legal in S3 but
// would escape or alias a directory store (`..`, `/abs`, `a//b`) are refused everywhere,
// so data written to one store can always be copied to the other.
import { InvalidKeyError } from './errors.js';

/** S3's limit on a key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;

/** Throws InvalidKeyError unless `key` is a valid object key; returns it unchanged. */
export function validateKey(key: string): string {
  if (typeof key !== 'string') throw new InvalidKeyError(String(key), 'must be a string');
  if (key.length === 0) throw new InvalidKeyError(key, 'must not be empty');
  checkCommon(key);
  if (key.endsWith('/')) throw new InvalidKeyError(key, 'must not end with "/"');
  return key;
}

/**
 * Validates a list prefix: `''` (everything) and a trailing `/` are allowed, the other key
 * rules apply to what is there.
 */
export function validatePrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new InvalidKeyError(String(prefix), 'prefix must be a string');
  if (prefix.length === 0) return prefix;
  checkCommon(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, prefix);
  return prefix;
}

function checkCommon(value: string, original = value): void {
  if (Buffer.byteLength(original, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(original, `must be at most ${MAX_KEY_BYTES} bytes in UTF-8`);
  }
  if (original.includes('\0')) throw new InvalidKeyError(original, 'must not contain NUL characters');
  if (original.includes('\\')) throw new InvalidKeyError(original, 'must not contain backslashes (use "/")');
  if (original.startsWith('/')) throw new InvalidKeyError(original, 'must be relative (no leading "/")');
  if (original.includes('//')) throw new InvalidKeyError(original, 'must not contain empty segments ("//")');
  for (const segment of value.split('/')) {
    if (segment === '..') throw new InvalidKeyError(original, 'must not contain ".." segments');
    if (segment === '.') throw new InvalidKeyError(original, 'must not contain "." segments');
  }
}
