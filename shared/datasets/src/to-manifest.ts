import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeIssues, manifestLineSchema } from './manifest-schema.js';
import type { DatasetItem } from './types.js';

/**
 * One manifest line (no trailing newline), keys in a fixed order for stable diffs.
 * Validated with the reader's schema, so anything written can be read back.
 */
export function itemToManifestLine(item: DatasetItem): string {
  const line: Record<string, unknown> = { id: item.id, uri: item.uri, label: item.label };
  if (item.className !== undefined) line.className = item.className;
  if (item.bbox !== undefined) line.bbox = [...item.bbox];
  if (item.split !== undefined) line.split = item.split;
  const parsed = manifestLineSchema.safeParse(line);
  if (!parsed.success) {
    throw new Error(`cannot write item "${item.id}" to a manifest: ${describeIssues(parsed.error)}`);
  }
  return JSON.stringify(line);
}

/**
 * Writes items as a JSONL manifest. Uris are written as they are (absolute paths stay absolute).
 * Writes a temp file then renames, so a crash never leaves a half manifest behind.
 * Duplicate ids are refused here because the reader would refuse them.
 */
export async function writeManifest(items: readonly DatasetItem[], file: string): Promise<void> {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const item of items) {
    if (seen.has(item.id)) throw new Error(`cannot write manifest ${file}: duplicate id "${item.id}"`);
    seen.add(item.id);
    lines.push(itemToManifestLine(item));
  }
  const target = path.resolve(file);
  await mkdir(path.dirname(target), { recursive: true });
  const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await writeFile(tmp, lines.length === 0 ? '' : `${lines.join('\n')}\n`, 'utf8');
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
