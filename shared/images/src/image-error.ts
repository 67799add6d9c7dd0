/** Why an image could not be used. Every code is permanent: retrying the same bytes cannot help. */
export type ImageErrorCode = 'corrupt' | 'unsupported' | 'too-large' | 'empty';

/**
 * Error for bad image input. The message always reads "Image <label>: <what is wrong>; <what to do>"
 * so a run report can list it verbatim next to the image it belongs to.
 * `permanent` lets job runners fail the job at once instead of burning retries on it.
 */
export class ImageError extends Error {
  override name = 'ImageError';
  readonly code: ImageErrorCode;
  readonly permanent = true as const;
  /** The input as the caller named it (URI, image id…). */
  readonly label: string;
  /** The "what is wrong" part alone. */
  readonly problem: string;
  /** The "what to do" part alone. */
  readonly fix: string;

  constructor(code: ImageErrorCode, label: string, problem: string, fix: string, options?: ErrorOptions) {
    super(`Image ${label}: ${problem}; ${fix}`, options);
    this.code = code;
    this.label = label;
    this.problem = problem;
    this.fix = fix;
  }
}

export function isImageError(err: unknown): err is ImageError {
  return err instanceof ImageError;
}
