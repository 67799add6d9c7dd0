import { describe, expect, it } from 'vitest';
import { runIdFromMetaKey, runKeys, runMetaPattern } from '../src/names.js';

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
