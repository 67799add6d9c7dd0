// Storage errors carry `permanent` so queue workers can decide between "retry later" and
// "fail the job with a reason": a missing object or a malformed key will not fix itself.

/** Base class for every error this package throws on purpose. */
export class StorageError extends Error {
  /** True when retrying the same call cannot succeed. */
  readonly permanent: boolean;

  constructor(message: string, options: { permanent?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.permanent = options.permanent ?? false;
  }
}

/** The key (or file, or URL) does not exist. */
export class NotFoundError extends StorageError {
  override readonly permanent = true as const;
  readonly key: string;
  readonly store: string;

  constructor(key: string, store: string, options: { cause?: unknown; detail?: string } = {}) {
    const detail = options.detail ? ` (${options.detail})` : '';
    super(`Not found: ${JSON.stringify(key)} in ${store}${detail}`, {
      permanent: true,
      cause: options.cause,
    });
    this.name = 'NotFoundError';
    this.key = key;
    this.store = store;
  }
}

/** A key or prefix broke one of the rules in validate-key.ts; raised before any I/O. */
export class InvalidKeyError extends StorageError {
  override readonly permanent = true as const;
  readonly key: string;
  readonly rule: string;

  constructor(key: string, rule: string) {
    // Long keys are cut so the message stays readable; the full key is on `.key`.
    const shown = key.length > 200 ? `${JSON.stringify(key.slice(0, 200))}…` : JSON.stringify(key);
    super(`Invalid storage key ${shown}: ${rule}`, { permanent: true });
    this.name = 'InvalidKeyError';
    this.key = key;
    this.rule = rule;
  }
}

/** A storage URI that openStore/readUri cannot handle. */
export class UnsupportedUriError extends StorageError {
  readonly uri: string;

  constructor(uri: string, reason: string, accepted: readonly string[]) {
    super(
      `Unsupported storage URI ${JSON.stringify(uri)}: ${reason}. Accepted forms: ${accepted.join(', ')}`,
      {
        permanent: true,
      },
    );
    this.name = 'UnsupportedUriError';
    this.uri = uri;
  }
}

/** An input refused before (or while) it is read: permanent, with the code its image fails with. */
export class InputRefusedError extends StorageError {
  override readonly permanent = true as const;

  constructor(
    readonly code: 'forbidden' | 'too-large',
    readonly uri: string,
    message: string,
  ) {
    super(message, { permanent: true });
  }
}

/**
 * An input outside the allowed roots (the dataset's directory, the store, EMBEDCAM_ALLOWED_URIS),
 * or an http(s) URL that resolves to a loopback, link-local or private address. Raised before the
 * input is opened, so whether it exists is never revealed.
 */
export class ForbiddenInputError extends InputRefusedError {
  constructor(uri: string, reason: string) {
    super(
      'forbidden',
      uri,
      `Input ${JSON.stringify(uri)} is forbidden: ${reason}. To read it, add its root to EMBEDCAM_ALLOWED_URIS (comma-separated prefixes such as /data, s3://bucket/prefix, https://host/path) or pass --allow <prefix> to embedcam`,
    );
    this.name = 'ForbiddenInputError';
  }
}

/** An input larger than the read limit (EMBEDCAM_MAX_READ_BYTES). */
export class InputTooLargeError extends InputRefusedError {
  constructor(uri: string, size: string, maxBytes: number) {
    super(
      'too-large',
      uri,
      `Input ${JSON.stringify(uri)} is too large: ${size}, over the read limit of ${maxBytes} bytes; shrink the file or raise EMBEDCAM_MAX_READ_BYTES`,
    );
    this.name = 'InputTooLargeError';
  }
}

/** Node's fs errors and the AWS SDK's errors both expose a string `code` or `name`. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code } = err as { code?: unknown };
  return typeof code === 'string' ? code : undefined;
}
