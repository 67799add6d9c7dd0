/**
 * A compute thread died or the pool was closed while a batch was queued or computing. Transient:
 * the same images on a fresh thread (or another worker) are expected to succeed.
 */
export class ComputeThreadError extends Error {
  readonly permanent = false;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ComputeThreadError';
  }
}

/** The pool (or batcher) was closed: the work was not done and should be handed back, not failed. */
export class ComputeClosedError extends Error {
  readonly permanent = false;
  constructor(message = 'The compute pool is closed.') {
    super(message);
    this.name = 'ComputeClosedError';
  }
}

/**
 * A pool could not start its model. `bad-model` (permanent: the spec or the model cannot work,
 * however often it is loaded) or `model-load` (transient: memory, files being written, …).
 */
export class PoolStartError extends Error {
  constructor(
    readonly code: 'bad-model' | 'model-load',
    message: string,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'PoolStartError';
  }
}
