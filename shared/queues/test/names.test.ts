import { describe, expect, it } from 'vitest';
import {
  BadIdError,
  runIdFromMetaKey,
  runKeys,
  runMetaPattern,
  SAFE_NAME_MAX,
  safeName,
  storageKeys,
} from '../src/names.js';

describe('run meta keys: the SCAN pattern and its parse', () => {
  it('the pattern is the meta key of run "*"', () => {
    expect(runMetaPattern('embedcam')).toBe('embedcam:run:*:meta');
    expect(runMetaPattern('t-1')).toBe(runKeys('t-1', '*').meta);
  });

  it('reads back the run id of every run’s meta key', () => {
    for (const runId of ['r', 'cub-e2e', 'Run_2025-01-01', 'a'.repeat(64)]) {
      expect(runIdFromMetaKey('p', runKeys('p', runId).meta)).toBe(runId);
    }
  });

  it('refuses keys the glob matches that are no run’s meta hash', () => {
    const refused = [
      'p:run:a:b:meta', // `*` also matches ':'
      'p:run::meta',
      'p:run:meta',
      'p:run:bad id!:meta',
      `p:run:${'a'.repeat(65)}:meta`,
      'p:run:a:done',
      'q:run:a:meta', // another prefix
      'pp:run:a:meta',
      runKeys('p', 'a').reportLock,
    ];
    for (const key of refused) expect(runIdFromMetaKey('p', key), key).toBeUndefined();
  });
});

describe('safeName: one rule for image ids in every store', () => {
  it('keeps short ids readable and reversible', () => {
    expect(safeName('Black_Footed_Albatross_0001_796111')).toBe('Black_Footed_Albatross_0001_796111');
    expect(safeName('a/b c.jpg')).toBe('a~2Fb~20c~2Ejpg');
    expect(decodeURIComponent(safeName('x~y.%z').replace(/~/g, '%'))).toBe('x~y.%z');
  });

  it('bounds long names, uniquely and deterministically', () => {
    const prefix = 'p'.repeat(400);
    const names = ['a', 'b', 'ab', '', '/'].map((s) => safeName(prefix + s));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) {
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(SAFE_NAME_MAX);
      expect(n).toMatch(/^p+\.[0-9a-f]{16}$/);
    }
    expect(safeName(`${prefix}a`)).toBe(names[0]);
    // Multi-byte and escaped characters: never cut inside an escape.
    for (const id of ['é'.repeat(300), `${'x'.repeat(190)}/////`, '/'.repeat(100)]) {
      const n = safeName(id);
      expect(Buffer.byteLength(n)).toBeLessThanOrEqual(SAFE_NAME_MAX);
      expect(n).toMatch(/^([A-Za-z0-9_!'()*-]|~[0-9A-F]{2})*\.[0-9a-f]{16}$/);
    }
    // A readable name has no '.', so it never equals a shortened one.
    expect(safeName('x'.repeat(SAFE_NAME_MAX))).toBe('x'.repeat(SAFE_NAME_MAX));
    expect(safeName('x'.repeat(SAFE_NAME_MAX + 1))).toContain('.');
  });

  it('refuses an id no store can hold, with the code bad-id', () => {
    expect(() => safeName('')).toThrow(BadIdError);
    expect(() => storageKeys.result('r', '')).toThrow(/image id is empty/);
    try {
      safeName('\ud800');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ name: 'BadIdError', code: 'bad-id', permanent: true });
    }
  });
});
