import { DatasetError, type LineRef } from './dataset-error.js';
import { parseIntegerField } from './parse-fields.js';
import type { NumberedLine } from './read-lines.js';

/** How to read one whitespace-separated table keyed by an integer id in its first column. */
export interface IdTableSpec<T> {
  /** Expected columns, e.g. "<image_id> <class_id>"; its word count is the required field count. */
  format: string;
  /** Turns the columns after the id into a value; throws DatasetError for bad fields. */
  parse: (fields: string[], at: LineRef) => T;
}

export interface IdTableRow<T> {
  line: number;
  value: T;
}

/**
 * Parses a CUB-style "<id> <fields…>" table into a Map keyed by id (insertion order = file order).
 * One pass, O(1) per line, so the full 11,788-image files cost nothing noticeable.
 */
export function parseIdTable<T>(
  file: string,
  lines: readonly NumberedLine[],
  spec: IdTableSpec<T>,
): Map<number, IdTableRow<T>> {
  const columns = spec.format.split(/\s+/);
  const idName = columns[0].replace(/[<>]/g, '');
  const rows = new Map<number, IdTableRow<T>>();
  for (const { line, text } of lines) {
    const fields = text.split(/\s+/);
    const at: LineRef = { file, line };
    if (fields.length !== columns.length) {
      throw new DatasetError(
        file,
        line,
        `expected ${columns.length} fields but found ${fields.length}`,
        `each line must read "${spec.format}"`,
      );
    }
    const id = parseIntegerField(at, idName, fields[0]);
    const previous = rows.get(id);
    if (previous) {
      throw new DatasetError(
        file,
        line,
        `duplicate ${idName} ${id} (first on line ${previous.line})`,
        'remove one of the two lines',
      );
    }
    rows.set(id, { line, value: spec.parse(fields.slice(1), at) });
  }
  return rows;
}
