import { describe, expect, it } from 'vitest';
import { InvalidKeyError, MAX_KEY_BYTES, StorageError, validateKey, validatePrefix } from '../src/index.js';

function ruleOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidKeyError) return err.rule;
    throw err;
  }
  throw new Error('expected InvalidKeyError, nothing was thrown');
}

describe('validateKey', () => {
  it.each([
    ['empty', '', /empty/],
    ['absolute', '/etc/passwd', /relative/],
    ['a/../b', 'a/../b', /"\.\."/],
    ['..', '..', /"\.\."/],
    ['a/..', 'a/..', /"\.\."/],
    ['./a', './a', /"\." segments/],
    ['a/./b', 'a/./b', /"\." segments/],
    ['backslash', 'a\\b', /backslash/],
    ['NUL', 'a\0b', /NUL/],
    ['a//b', 'a//b', /empty segments/],
    ['trailing slash', 'dir/', /end with/],
    ['1,025 ASCII bytes', 'x'.repeat(MAX_KEY_BYTES + 1), /1024 bytes/],
    ['513 two-byte characters (1,026 bytes)', 'é'.repeat(513), /1024 bytes/],
  ])('rejects %s', (_label, key, rule) => {
    expect(ruleOf(() => validateKey(key))).toMatch(rule);
  });

  it.each([
    ['a single segment', 'a'],
    ['a nested key', 'runs/r1/heatmaps/000001.png'],
    ['a dot file', '.hidden'],
    ['dots inside a name', 'a..b'],
    ['a three-dot name', '...'],
    ['spaces and Unicode', 'with space/ü/日本.jpg'],
    ['exactly 1,024 ASCII bytes', 'x'.repeat(MAX_KEY_BYTES)],
    ['exactly 1,024 bytes of two-byte characters', 'é'.repeat(512)],
  ])('accepts %s', (_label, key) => {
    expect(validateKey(key)).toBe(key);
  });

  it('builds an error that names the key and the rule and is permanent', () => {
    const err = (() => {
      try {
        validateKey('a/../secret');
      } catch (e) {
        return e as InvalidKeyError;
      }
    })();
    expect(err).toBeInstanceOf(InvalidKeyError);
    expect(err).toBeInstanceOf(StorageError);
    expect(err?.name).toBe('InvalidKeyError');
    expect(err?.key).toBe('a/../secret');
    expect(err?.permanent).toBe(true);
    expect(err?.message).toContain('"a/../secret"');
    expect(err?.message).toContain('".." segments');
  });

  it('shortens very long keys in the message but keeps the full key', () => {
    const key = 'k'.repeat(5000);
    const err = (() => {
      try {
        validateKey(key);
      } catch (e) {
        return e as InvalidKeyError;
      }
    })();
    expect(err?.key).toBe(key);
    expect(err?.message.length).toBeLessThan(400);
  });
});

describe('validatePrefix', () => {
  it.each(['', 'runs/', 'runs/1', 'a/b/c/', '.hidden/'])('accepts %j', (prefix) => {
    expect(validatePrefix(prefix)).toBe(prefix);
  });

  it.each([
    ['/', /relative/],
    ['/runs/', /relative/],
    ['../', /"\.\."/],
    ['a/../', /"\.\."/],
    ['a//', /empty segments/],
    ['a\\', /backslash/],
  ])('rejects %j', (prefix, rule) => {
    expect(ruleOf(() => validatePrefix(prefix))).toMatch(rule);
  });
});
