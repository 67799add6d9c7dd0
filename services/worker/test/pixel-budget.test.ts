import { describe, expect, it } from 'vitest';
import { PixelBudget } from '../src/pixel-budget.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('PixelBudget', () => {
  it('admits images while they fit and queues the rest in order', async () => {
    const b = new PixelBudget(100);
    const order: string[] = [];
    const r1 = await b.acquire(60);
    const p2 = b.acquire(50).then((r) => {
      order.push('second');
      return r;
    });
    const p3 = b.acquire(10).then((r) => {
      order.push('third');
      return r;
    });
    await tick();
    // 10 would fit, but it waits behind the 50: first come, first served.
    expect(order).toEqual([]);
    expect(b.inUse).toBe(60);
    r1();
    const [r2, r3] = await Promise.all([p2, p3]);
    expect(order).toEqual(['second', 'third']);
    expect(b.inUse).toBe(60);
    r2();
    r3();
    expect(b.inUse).toBe(0);
  });

  it('an image larger than the budget runs alone', async () => {
    const b = new PixelBudget(100);
    const small = await b.acquire(1);
    let big: (() => void) | undefined;
    const p = b.acquire(500).then((r) => {
      big = r;
    });
    await tick();
    expect(big).toBeUndefined();
    small();
    await p;
    expect(b.inUse).toBe(100);
    big!();
    expect(b.inUse).toBe(0);
  });

  it('giving back twice counts once', async () => {
    const b = new PixelBudget(10);
    const r = await b.acquire(7);
    r();
    r();
    expect(b.inUse).toBe(0);
    expect(() => new PixelBudget(0)).toThrow(/capacity/);
  });
});
