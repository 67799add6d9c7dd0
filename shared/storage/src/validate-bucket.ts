// Bucket names are checked when a store is opened, so a typo in a URI fails at start-up with a
// clear message instead of as an opaque HTTP 400 on the first write.
import { StorageError } from './errors.js';

/** Throws unless `bucket` follows the S3 naming rules (3–63 chars, a-z 0-9 . -). */
export function validateBucketName(bucket: string): string {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) {
    throw new StorageError(
      `Invalid S3 bucket name ${JSON.stringify(bucket)}: use 3-63 characters of a-z, 0-9, "." and "-", ` +
        'starting and ending with a letter or digit',
      { permanent: true },
    );
  }
  return bucket;
}
