import { describe, expect, it } from 'vitest';
import { type ClassRange, parseClassRange, SelectionError, toClassRange } from '../src/index.js';

const members = (r: ClassRange, upTo = 15) =>
  Array.from({ length: upTo + 1 }, (_, i) => i).filter((i) => r.has(i));

describe('parseClassRange', () => {
  it('parses a range', () => {
    expect(members(parseClassRange('1-10'))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('parses a single id', () => {
    expect(members(parseClassRange('3'))).toEqual([3]);
  });

  it('parses a list of ranges and ids, with spaces', () => {
    const r = parseClassRange(' 1-5, 8 ,10 - 12');
    expect(members(r)).toEqual([1, 2, 3, 4, 5, 8, 10, 11, 12]);
    expect(r.toString()).toBe('1-5,8,10-12');
  });

  it('parses the CUB metric-learning halves', () => {
    const r = parseClassRange('101-200');
    expect([r.has(100), r.has(101), r.has(200), r.has(201)]).toEqual([false, true, true, false]);
  });

  it.each([
    ['10-1', 'write it as "1-10"'],
    ['a-b', '"a-b" is not a class id'],
    ['', 'empty'],
    ['   ', 'empty'],
    ['1-', '"1-" is not'],
    ['1,,2', '"" is not'],
    ['-3', '"-3" is not'],
    ['1.5', '"1.5" is not'],
  ])('rejects %j', (spec, message) => {
    expect(() => parseClassRange(spec)).toThrow(SelectionError);
    expect(() => parseClassRange(spec)).toThrow(message);
  });
});

describe('toClassRange', () => {
  it('accepts a list of ids or an existing range', () => {
    expect(members(toClassRange([2, 7]))).toEqual([2, 7]);
    const r = parseClassRange('4');
    expect(toClassRange(r)).toBe(r);
    expect(members(toClassRange('2-3'))).toEqual([2, 3]);
  });
});
