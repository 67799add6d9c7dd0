// The one failure taxonomy: what code an image's failure is reported with, and whether retrying can
// help. Importable alone as '@embedcam/queues/failures' (no Redis, no BullMQ), so the one-process
// `explain` path classifies exactly as the pipeline does.

export interface ClassifiedFailure {
  /** Short machine-readable reason: corrupt, not-found, bad-box, forbidden, model-load, error… */
  code: string;
  message: string;
  /** true: fail the image now; false: retry, and report `code` if the last attempt fails too. */
  permanent: boolean;
}

/** Domain errors named here are permanent: the same input fails the same way however often it runs. */
const PERMANENT_BY_NAME: Record<string, string | undefined> = {
  BoxError: 'bad-box',
  UnknownClassError: 'unknown-class',
  NotFoundError: 'not-found',
  UnsupportedUriError: 'bad-uri',
  // These carry their own code (corrupt, unsupported, too-large, bad-key, …) or none.
  ImageError: undefined,
  DatasetError: undefined,
  InvalidKeyError: undefined,
};

const CODE = /^[a-z][a-z-]*$/;
const MAX_MESSAGE = 2000;

/**
 * Classifies any error of one image. An error that says what it is (a lowercase `code` and a
 * boolean `permanent`, as JobFailure, PoolStartError and the storage errors do) is taken at its
 * word; known domain errors are permanent with their code; a missing file is `not-found`; anything
 * else is a transient `error` (network, storage, a crashed thread) and is retried.
 */
export function classifyFailure(err: unknown, item?: { id: string; uri: string }): ClassifiedFailure {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; message?: unknown; permanent?: unknown };
  const name = typeof e.name === 'string' ? e.name : '';
  const ownCode = typeof e.code === 'string' && CODE.test(e.code) ? e.code : undefined;
  let message = typeof e.message === 'string' && e.message !== '' ? e.message : String(err);
  let code: string;
  let permanent: boolean;
  if (e.code === 'ENOENT' || name === 'NotFoundError') {
    code = 'not-found';
    permanent = true;
    if (item) {
      message =
        e.code === 'ENOENT'
          ? `image ${item.uri} not found (image id ${item.id}); fix its path or URI`
          : `Image ${item.id} (${item.uri}): ${message}; fix its path or URI`;
    }
  } else if (typeof e.permanent === 'boolean' && ownCode) {
    code = ownCode;
    permanent = e.permanent;
  } else if (name in PERMANENT_BY_NAME) {
    code = PERMANENT_BY_NAME[name] ?? ownCode ?? 'error';
    permanent = true;
    if (name === 'UnsupportedUriError' && item) message = `Image ${item.id}: ${message}`;
  } else {
    code = ownCode ?? 'error';
    permanent = e.permanent === true;
  }
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE - 1)}…`;
  return { code, message, permanent };
}

/** Retrying cannot help: the job fails at once with its reason. */
export function isPermanent(err: unknown): boolean {
  return classifyFailure(err).permanent;
}
