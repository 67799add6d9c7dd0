import { describe, expect, it } from 'vitest';
import { withTimeout } from '../src/with-timeout.js';

describe('withTimeout', () => {
  it('passes the value through in time, and rejects with the given error after the time', async () => {
    await expect(withTimeout(Promise.resolve(7), 50, () => new Error('late'))).resolves.toBe(7);
    const never = new Promise<number>(() => {});
    await expect(withTimeout(never, 20, () => new Error('late'))).rejects.toThrow('late');
    await expect(withTimeout(Promise.reject(new Error('own')), 50, () => new Error('late'))).rejects.toThrow(
      'own',
    );
  });
});
