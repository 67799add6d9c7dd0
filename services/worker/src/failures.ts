/**
 * A failure with a machine-readable code, as result jobs and reports carry it; classifyFailure
 * (@embedcam/queues) takes its code and permanence at their word.
 */
export class JobFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** true: fail the job now; false: retry, and report `code` if the last attempt fails too. */
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'JobFailure';
  }
}

/**
 * Ends a job handed back to the queue at shutdown: neither the image's success nor its failure, so
 * nothing is published and nothing counted; another worker takes the job.
 */
export class HandedBack extends Error {
  constructor() {
    super('The worker is shutting down; the job was handed back to the queue.');
    this.name = 'HandedBack';
  }
}
