import { readFile } from 'node:fs/promises';
import { DatasetError } from './dataset-error.js';

/** A non-blank line of a text file with its 1-based line number. */
export interface NumberedLine {
  line: number;
  text: string;
}

/**
 * Reads a whole text file and yields its non-blank lines, trimmed, with 1-based line numbers.
 * Whole-file reads are fine here: even the full CUB images.txt is ~0.5 MB.
 * `missingFix` says how to fix a missing file, since that depends on what the caller expects.
 */
export async function readNumberedLines(file: string, missingFix: string): Promise<NumberedLine[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new DatasetError(file, undefined, 'file not found', missingFix, { cause: err });
    if (code === 'EISDIR')
      throw new DatasetError(file, undefined, 'is a directory, not a file', missingFix, { cause: err });
    throw new DatasetError(
      file,
      undefined,
      `cannot read file (${code ?? String(err)})`,
      'check permissions',
      {
        cause: err,
      },
    );
  }
  // Strip a UTF-8 BOM so the first id still parses; split tolerates CRLF files.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: NumberedLine[] = [];
  const raw = text.split(/\r?\n/);
  for (let i = 0; i < raw.length; i++) {
    const trimmed = raw[i].trim();
    if (trimmed !== '') out.push({ line: i + 1, text: trimmed });
  }
  return out;
}
