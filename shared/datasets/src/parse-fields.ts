import { DatasetError, type LineRef } from './dataset-error.js';

const INTEGER = /^\d+$/;
// Plain decimal notation only: rejects '', 'NaN', 'Infinity', '0x10', which Number() would accept.
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a non-negative integer field, or throws a DatasetError naming the field. */
export function parseIntegerField(at: LineRef, name: string, raw: string): number {
  const value = Number(raw);
  if (!INTEGER.test(raw) || !Number.isSafeInteger(value)) {
    throw new DatasetError(
      at.file,
      at.line,
      `${name} "${raw}" is not a non-negative integer`,
      `write ${name} as digits only`,
    );
  }
  return value;
}

/** Parses a finite decimal number field, or throws a DatasetError naming the field. */
export function parseNumberField(at: LineRef, name: string, raw: string): number {
  const value = Number(raw);
  if (!DECIMAL.test(raw) || !Number.isFinite(value)) {
    throw new DatasetError(
      at.file,
      at.line,
      `${name} "${raw}" is not a number`,
      `write ${name} like 12 or 12.5`,
    );
  }
  return value;
}
