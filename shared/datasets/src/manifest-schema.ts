import { type ZodError, z } from 'zod';

/** A lone UTF-16 surrogate (JSON allows "\ud800") cannot be encoded into a job id or a key. */
const wellFormed = (v: string) => !/\p{Surrogate}/u.test(v);

/**
 * One JSONL manifest line. Strict: an unknown key (typically a typo such as "bbx" or "lable")
 * is an error instead of a silently ignored field.
 */
export const manifestLineSchema = z.strictObject({
  id: z
    .string()
    .min(1)
    .refine(
      wellFormed,
      'is not well-formed Unicode (a lone surrogate such as \\ud800); write the id as plain text',
    ),
  uri: z.string().min(1),
  label: z.number().int(),
  className: z.string().min(1).optional(),
  bbox: z.tuple([z.number(), z.number(), z.number().positive(), z.number().positive()]).optional(),
  split: z.string().min(1).optional(),
});

export type ManifestLine = z.infer<typeof manifestLineSchema>;

/** Renders a zod issue path like ['bbox', 2] as "bbox[2]" for error messages. */
export function formatIssuePath(issuePath: readonly PropertyKey[]): string {
  let out = '';
  for (const key of issuePath) {
    out += typeof key === 'number' ? `[${key}]` : `${out === '' ? '' : '.'}${String(key)}`;
  }
  return out;
}

/**
 * "invalid field label (…), field bbox[2] (…)"; issues are joined with ',' because ';' ends the
 * "what is wrong" part of a DatasetError message. Whole-line issues (unknown key, not an object)
 * read "invalid line (…)".
 */
export function describeIssues(error: ZodError): string {
  const parts = error.issues.map((i) =>
    i.path.length === 0 ? `line (${i.message})` : `field ${formatIssuePath(i.path)} (${i.message})`,
  );
  return `invalid ${parts.join(', ')}`;
}
