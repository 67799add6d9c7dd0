import { DatasetError, type LineRef } from './dataset-error.js';

const INTEGER = /^\d+$/;
// Plain decimal notation only: rejects '', 'NaN', 'Infinity', '0x10', which Number() would accept.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Number(raw) when `valid`, else a DatasetError naming the field, what is wrong and the fix. */
function parseField(
  at: LineRef,
  name: string,
  raw: string,
  valid: (raw: string, value: number) => boolean,
  problem: string,
  fix: string,
): number {
  const value = Number(raw);
  if (!valid(raw, value)) throw new DatasetError(at.file, at.line, `${name} "${raw}" ${problem}`, fix);
  return value;
}

/** Parses a non-negative integer field, or throws a DatasetError naming the field. */
export function parseIntegerField(at: LineRef, name: string, raw: string): number {
  const valid = (r: string, v: number) => INTEGER.test(r) && Number.isSafeInteger(v);
  return parseField(at, name, raw, valid, 'is not a non-negative integer', `write ${name} as digits only`);
}

/** Parses a finite decimal number field, or throws a DatasetError naming the field. */
export function parseNumberField(at: LineRef, name: string, raw: string): number {
  const valid = (r: string, v: number) => DECIMAL.test(r) && Number.isFinite(v);
  return parseField(at, name, raw, valid, 'is not a number', `write ${name} like 12 or 12.5`);
}
