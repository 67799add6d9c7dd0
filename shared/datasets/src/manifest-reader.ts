import path from 'node:path';
import { DatasetError } from './dataset-error.js';
import { describeIssues, manifestLineSchema } from './manifest-schema.js';
import { readNumberedLines } from './read-lines.js';
import { resolveUri } from './resolve-uri.js';
import type { Dataset, DatasetItem } from './types.js';

const LINE_FORMAT =
  'each line must be {"id": string, "uri": string, "label": integer, "className"?: string, "bbox"?: [x,y,w,h], "split"?: string}';

/**
 * Reads a JSONL manifest: one item per line; blank lines and lines starting with '#' are skipped.
 * Classes are derived from the items: a label's name is its className where any line gives one,
 * else the label as a string. Items keep exactly the fields their line gave (no className filled in),
 * so reading and re-writing a manifest changes nothing.
 */
export async function readManifest(file: string): Promise<Dataset> {
  const source = path.resolve(file);
  const baseDir = path.dirname(source);
  const lines = await readNumberedLines(source, 'pass the path of an existing .jsonl manifest');
  const items: DatasetItem[] = [];
  const firstLineOfId = new Map<string, number>();
  const named = new Map<number, { name: string; line: number }>();

  for (const { line, text } of lines) {
    if (text.startsWith('#')) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new DatasetError(source, line, `invalid JSON (${(err as Error).message})`, LINE_FORMAT, {
        cause: err,
      });
    }
    const parsed = manifestLineSchema.safeParse(json);
    if (!parsed.success) {
      throw new DatasetError(source, line, describeIssues(parsed.error), LINE_FORMAT);
    }
    const entry = parsed.data;
    const first = firstLineOfId.get(entry.id);
    if (first !== undefined) {
      throw new DatasetError(
        source,
        line,
        `duplicate id "${entry.id}" (first on line ${first})`,
        'ids must be unique; remove or rename one',
      );
    }
    firstLineOfId.set(entry.id, line);
    const resolved = resolveUri(entry.uri, baseDir);
    if ('error' in resolved) {
      throw new DatasetError(
        source,
        line,
        `invalid field uri (${resolved.error})`,
        'use a relative or absolute path, file://, s3://, http:// or https://',
      );
    }
    if (entry.className !== undefined) {
      const known = named.get(entry.label);
      if (known && known.name !== entry.className) {
        throw new DatasetError(
          source,
          line,
          `label ${entry.label} is named "${entry.className}" but line ${known.line} names it "${known.name}"`,
          'use one className per label',
        );
      }
      if (!known) named.set(entry.label, { name: entry.className, line });
    }
    // Build the item field by field so absent optionals stay absent (not `undefined` keys).
    const item: DatasetItem = { id: entry.id, uri: resolved.uri, label: entry.label };
    if (entry.className !== undefined) item.className = entry.className;
    if (entry.bbox !== undefined) item.bbox = entry.bbox;
    if (entry.split !== undefined) item.split = entry.split;
    items.push(item);
  }

  const classes = new Map<number, string>();
  for (const label of [...new Set(items.map((i) => i.label))].sort((a, b) => a - b)) {
    classes.set(label, named.get(label)?.name ?? String(label));
  }
  return { name: path.basename(source).replace(/\.(jsonl|ndjson)$/i, ''), source, items, classes };
}
