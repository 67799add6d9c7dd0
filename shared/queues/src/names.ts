import { createHash } from 'node:crypto';

/** Queue names (BullMQ forbids ':' in names; the deployment prefix is BullMQ's `prefix` option). */
export const QUEUES = {
  proxies: 'proxies',
  heatmaps: 'heatmaps',
  results: 'results',
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function validateRunId(runId: string): string {
  if (!RUN_ID.test(runId)) {
    throw new Error(
      `Run id "${runId}" is invalid: use 1–64 letters, digits, _ or - (starting with a letter or digit).`,
    );
  }
  return runId;
}

const ATTEMPT = /^[a-z0-9]{1,16}$/;

/** An attempt id (`run.json`'s `attempt`): 1–16 lowercase letters or digits. */
export function validateAttempt(attempt: string): string {
  if (!ATTEMPT.test(attempt))
    throw new Error(`Attempt "${attempt}" is invalid: use 1–16 lowercase letters or digits.`);
  return attempt;
}

/**
 * Every job id of a run starts with `<runId>/<attempt>/` (`<runId>/` for jobs without an attempt:
 * jobs from before attempts existed, or added by scripts of their own). A run started afresh gets a
 * new attempt, so completed jobs of an earlier attempt that BullMQ still keeps never swallow the new
 * ones, while re-submitting the same attempt still finds its own jobs in flight. The one place job
 * ids are built: a job of several images (a chunk) will be `<runId>/<attempt>/chunk-<n>`.
 */
function jobBase(runId: string, attempt: string | undefined): string {
  return attempt === undefined ? runId : `${runId}/${attempt}`;
}

/**
 * Deterministic job id `<runId>/<attempt>/<imageId>` (DESIGN's `<runId>:<imageId>`; BullMQ reserves ':').
 * Adding a job whose id exists is a no-op in BullMQ, which makes submission idempotent.
 */
export function heatmapJobId(runId: string, imageId: string, attempt?: string): string {
  return `${jobBase(runId, attempt)}/${encodeURIComponent(imageId)}`;
}

/**
 * The result job of an image: `<heatmapJobId>/result`. `recount` (a nonce of one submission) names
 * a result the client publishes for a result already in the store that Redis does not count (Redis
 * lost the run): a completed result job of the same image may still be kept, so it needs an id of its
 * own; the counting script counts the image once whichever job comes first.
 */
export function resultJobId(runId: string, imageId: string, attempt?: string, recount?: string): string {
  const id = `${heatmapJobId(runId, imageId, attempt)}/result`;
  return recount === undefined ? id : `${id}-${recount}`;
}

/** What every BullMQ job id of a run (heatmap and result jobs) starts with: how its jobs are told apart in a queue. */
export function runJobIdPrefix(runId: string): string {
  return `${runId}/`;
}

/** Storage keys: deterministic, so a retried job overwrites rather than duplicates. */
export const storageKeys = {
  runConfig: (runId: string) => `runs/${runId}/run.json`,
  heatmap: (runId: string, imageId: string) => `runs/${runId}/heatmaps/${safeName(imageId)}.png`,
  overlay: (runId: string, imageId: string) => `runs/${runId}/overlays/${safeName(imageId)}.jpg`,
  result: (runId: string, imageId: string) => `runs/${runId}/results/${safeName(imageId)}.json`,
  /** The folder of a run's result objects (to list them). */
  results: (runId: string) => `runs/${runId}/results/`,
  report: (runId: string) => `runs/${runId}/report.json`,
  imagesCsv: (runId: string) => `runs/${runId}/images.csv`,
  proxiesData: (proxyId: string) => `proxies/${proxyId}/proxies.bin`,
  proxiesMeta: (proxyId: string) => `proxies/${proxyId}/proxies.json`,
  proxyRequest: (proxyId: string) => `proxies/${proxyId}/request.json`,
  proxyShard: (proxyId: string, shard: number) => `proxies/${proxyId}/shards/${shard}.jsonl`,
  proxyPartial: (proxyId: string, shard: number) => `proxies/${proxyId}/partials/${shard}.json`,
  /** Reference images that could not be embedded, written beside the set. */
  proxyFailures: (proxyId: string) => `proxies/${proxyId}/failures.json`,
};

/** An image id no store can hold (empty, or not text): the image fails with code `bad-id`. */
export class BadIdError extends Error {
  readonly code = 'bad-id';
  readonly permanent = true;
  constructor(message: string) {
    super(message);
    this.name = 'BadIdError';
  }
}

/** The longest name {@link safeName} returns: file systems allow 255 bytes, minus an extension. */
export const SAFE_NAME_MAX = 200;
const HASH_CHARS = 16;

/**
 * Image ids become file and object names, the same for every store. Readable and reversible up
 * to {@link SAFE_NAME_MAX} bytes (percent-encoding with `~` for `%`, and `.`/`~` encoded too, so
 * no name contains a `.`). A longer name keeps its first part and ends in `.` and 16 hex digits
 * of the SHA-256 of the whole id: deterministic, unique, and never equal to a readable name.
 * An empty id throws BadIdError.
 */
export function safeName(imageId: string): string {
  if (typeof imageId !== 'string' || imageId.length === 0) {
    throw new BadIdError('The image id is empty: every image needs a non-empty id to name its outputs.');
  }
  let encoded: string;
  try {
    encoded = encodeURIComponent(imageId);
  } catch {
    // A lone UTF-16 surrogate cannot be encoded (nor written to a file name).
    throw new BadIdError(`The image id ${JSON.stringify(imageId)} is not valid Unicode text.`);
  }
  const name = encoded
    .replace(/[.~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%/g, '~');
  if (name.length <= SAFE_NAME_MAX) return name;
  let head = name.slice(0, SAFE_NAME_MAX - HASH_CHARS - 1);
  // Not in the middle of an escape (`~XX`).
  const tilde = head.lastIndexOf('~');
  if (tilde >= head.length - 2) head = head.slice(0, tilde);
  const hash = createHash('sha256').update(imageId, 'utf8').digest('hex').slice(0, HASH_CHARS);
  return `${head}.${hash}`;
}

const META_SUFFIX = ':meta';
/** The prefix every Redis key of one run starts with (deleteKeysWithPrefix takes it to forget a run). */
export const runBase = (prefix: string, runId: string) => `${prefix}:run:${runId}`;

/** Redis keys of a run's state (all under the deployment prefix). */
export function runKeys(prefix: string, runId: string) {
  const base = runBase(prefix, runId);
  return {
    meta: `${base}${META_SUFFIX}`,
    /** Image ids with a counted result (ok or failed): the exactly-once guard. */
    done: `${base}:done`,
    failed: `${base}:failed`,
    counters: `${base}:counters`,
    classCounters: (label: number) => `${base}:class:${label}`,
    classes: `${base}:classes`,
    /** imageId → compact per-image row (for images.csv and the audit lists). */
    images: `${base}:images`,
    reportLock: `${base}:report-lock`,
  };
}

/** SCAN pattern of every run's meta hash: how runs are found that no process has in memory. */
export function runMetaPattern(prefix: string): string {
  return runKeys(prefix, '*').meta;
}

/**
 * The run id of a key that {@link runMetaPattern} matched, or undefined when the key is not a
 * run's meta hash (the glob's `*` also matches ':', so e.g. `run:a:b:meta` must be refused).
 */
export function runIdFromMetaKey(prefix: string, key: string): string | undefined {
  const head = runBase(prefix, '');
  if (!key.startsWith(head) || !key.endsWith(META_SUFFIX)) return undefined;
  const runId = key.slice(head.length, key.length - META_SUFFIX.length);
  return RUN_ID.test(runId) ? runId : undefined;
}
