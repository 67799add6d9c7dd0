/**
 * Permanent errors fail a job at once with a reason (no retry): corrupt image, missing object,
 * unknown class, bad box, malformed payload. Everything else is transient and retried.
 */
export function isPermanent(err: unknown): boolean {
  const e = err as { permanent?: unknown; name?: string; code?: unknown } | null;
  if (!e) return false;
  if (e.permanent === true) return true;
  return (
    [
      'BoxError',
      'UnknownClassError',
      'ImageError',
      'NotFoundError',
      'InvalidKeyError',
      'DatasetError',
    ].includes(e.name ?? '') || e.code === 'ENOENT'
  );
}
