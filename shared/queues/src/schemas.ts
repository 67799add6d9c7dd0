import { proxySchemeSchema } from '@embedcam/cam/proxy-scheme';
import { formatIssues } from '@embedcam/validation';
import { z } from 'zod';

const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** One image to explain. Carries ids and URIs only — never pixels. */
export const heatmapJobSchema = z.object({
  runId: z.string(),
  /** The run's attempt (`run.json`), part of the job ids of this job and of its result job. */
  attempt: z.string().optional(),
  imageId: z.string(),
  uri: z.string(),
  label: z.number().int(),
  className: z.string().optional(),
  bbox: box.optional(),
  split: z.string().optional(),
});
export type HeatmapJob = z.infer<typeof heatmapJobSchema>;

/** A finished image: the result (or failure record) lives in storage at `key`. */
export const resultJobSchema = z.object({
  runId: z.string(),
  /** The attempt of the heatmap job this result is of. */
  attempt: z.string().optional(),
  imageId: z.string(),
  status: z.enum(['ok', 'failed']),
  /**
   * Storage key of the ImageResult JSON (ok) — failures carry their reason inline (short). A stored
   * failure object ({@link storedFailureSchema}) at an ok job's key counts as that failure.
   */
  key: z.string().optional(),
  failure: z.object({ code: z.string(), message: z.string().max(2000) }).optional(),
  /** true: a failed image whose cause may pass (`--retry-failed` may succeed); absent: permanent. */
  transient: z.boolean().optional(),
  uri: z.string().optional(),
  label: z.number().int().optional(),
});
export type ResultJob = z.infer<typeof resultJobSchema>;

/**
 * A failed image as the worker stores it, at the key of its ImageResult (`runs/<id>/results/…`), so
 * that the store knows failures too: re-submitting counts it as done, `--retry-failed` redoes it.
 */
export const storedFailureSchema = z.object({
  id: z.string(),
  status: z.literal('failed'),
  uri: z.string().optional(),
  label: z.number().int().optional(),
  code: z.string(),
  message: z.string(),
  /** false: retrying cannot help (corrupt image, unknown class…); true: it may pass. */
  transient: z.boolean(),
  attempt: z.string().optional(),
  failedAt: z.string().optional(),
});
export type StoredFailure = z.infer<typeof storedFailureSchema>;

/** A stored result object that is a failure record, or undefined for anything else (an ImageResult). */
export function parseStoredFailure(bytes: Buffer | string): StoredFailure | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch {
    return undefined;
  }
  if ((json as { status?: unknown } | null)?.status !== 'failed') return undefined;
  const r = storedFailureSchema.safeParse(json);
  return r.success ? r.data : undefined;
}

/** What every worker needs to know about a run; stored at runs/<runId>/run.json. */
export const runConfigSchema = z.object({
  runId: z.string(),
  /**
   * This attempt at the run, part of every job id: a run the store does not know (no run.json)
   * starts afresh with a new one; `--retry-failed` starts a new one too. Absent in older run.json.
   */
  attempt: z.string().optional(),
  createdAt: z.string(),
  /** Model spec: a path the workers can read, or "default" / "default-onnx" for the shared MobileNetV2. */
  model: z.string(),
  engine: z.enum(['tfjs', 'onnx']).optional(),
  modelName: z.string(),
  modelFingerprint: z.string(),
  proxyId: z.string(),
  target: z.union([z.literal('gt'), z.literal('predicted'), z.number().int()]).default('gt'),
  resolution: z.enum(['eval224', 'original']).default('eval224'),
  overlays: z.boolean().default(true),
  tau: z.number().default(0.2),
  total: z.number().int().min(0),
  dataset: z.object({
    name: z.string(),
    source: z.string(),
    split: z.string().optional(),
    classes: z.string().optional(),
  }),
});
export type RunConfig = z.infer<typeof runConfigSchema>;

/** A proxy build request; stored at proxies/<id>/request.json. */
export const proxyRequestSchema = z.object({
  proxyId: z.string(),
  scheme: proxySchemeSchema,
  model: z.string(),
  engine: z.enum(['tfjs', 'onnx']).optional(),
  modelName: z.string(),
  modelFingerprint: z.string(),
  dataset: z.object({
    name: z.string(),
    source: z.string(),
    split: z.string().optional(),
    classes: z.string().optional(),
  }),
  classNames: z.record(z.string(), z.string()).default({}),
  shards: z.number().int().min(0),
});
export type ProxyRequest = z.infer<typeof proxyRequestSchema>;

/** Child of a proxy build: embed one shard (a JSONL of items in storage) and write its partial. */
export const proxyShardJobSchema = z.object({ proxyId: z.string(), shard: z.number().int().min(0) });
export type ProxyShardJob = z.infer<typeof proxyShardJobSchema>;

/** Parent of a proxy build: reduce the partials into the proxy set. */
export const proxyReduceJobSchema = z.object({ proxyId: z.string() });
export type ProxyReduceJob = z.infer<typeof proxyReduceJobSchema>;

/** A partial written by a shard: the members' embeddings (exact reduction needs them, see proxy-builder). */
export const proxyPartialSchema = z.object({
  shard: z.number().int(),
  dim: z.number().int(),
  members: z.array(z.object({ id: z.string(), label: z.number().int(), embedding: z.array(z.number()) })),
  failures: z.array(
    z.object({
      id: z.string(),
      uri: z.string(),
      label: z.number().int(),
      code: z.string(),
      message: z.string(),
    }),
  ),
});
export type ProxyPartial = z.infer<typeof proxyPartialSchema>;

/** Parses a payload, naming the queue and the field on error (a malformed job fails permanently). */
export function parsePayload<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    const issues = formatIssues(r.error);
    const err = new Error(`Malformed ${what} payload: ${issues}`);
    (err as Error & { permanent: boolean }).permanent = true;
    throw err;
  }
  return r.data;
}

/** The heatmap job of one dataset item (ids, URI, label and box — never pixels). */
export function heatmapJobFor(
  runId: string,
  it: {
    id: string;
    uri: string;
    label: number;
    className?: string;
    bbox?: [number, number, number, number];
    split?: string;
  },
  attempt?: string,
): HeatmapJob {
  return {
    runId,
    ...(attempt === undefined ? {} : { attempt }),
    imageId: it.id,
    uri: it.uri,
    label: it.label,
    className: it.className,
    bbox: it.bbox,
    split: it.split,
  };
}
