/**
 * Error for bad dataset input. The message always reads
 * "<file>:<line>: <what is wrong>; <how to fix>" (or "<file>: …" when no single line is at fault)
 * so an operator can jump straight to the offending line of a 10k-line file.
 */
export class DatasetError extends Error {
  override name = 'DatasetError';
  readonly file: string;
  readonly line?: number;
  /** The "what is wrong" part alone, for callers that format their own messages. */
  readonly problem: string;
  /** The "how to fix" part alone. */
  readonly fix: string;

  constructor(file: string, line: number | undefined, problem: string, fix: string, options?: ErrorOptions) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${problem}; ${fix}`, options);
    this.file = file;
    if (line !== undefined) this.line = line;
    this.problem = problem;
    this.fix = fix;
  }
}

/** Where a value came from; passed to parsing helpers so their errors can name it. */
export interface LineRef {
  file: string;
  line: number;
}
