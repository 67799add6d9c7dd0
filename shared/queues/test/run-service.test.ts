import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runService } from '../src/run-service.js';

const log = pino({ level: 'silent' });

describe('runService', () => {
  const disposers: Array<() => void> = [];
  afterEach(() => {
    for (const d of disposers.splice(0)) d();
  });

  it('closes gracefully on the first signal, then runs afterClose and exits 0', async () => {
    const order: string[] = [];
    const exit = vi.fn((code: number) => order.push(`exit ${code}`));
    disposers.push(
      runService(
        { close: async (o) => void order.push(`close ${o?.force ? 'force' : 'graceful'}`) },
        { name: 'test', log, exit, afterClose: async () => void order.push('afterClose') },
      ),
    );
    process.emit('SIGTERM');
    await vi.waitFor(() => expect(exit).toHaveBeenCalled());
    expect(order).toEqual(['close graceful', 'afterClose', 'exit 0']);
  });

  it('a second signal forces the close and exits 1; a third exits at once', async () => {
    const closes: Array<boolean | undefined> = [];
    const exit = vi.fn();
    let finish!: () => void;
    disposers.push(
      runService(
        {
          close: (o) => {
            closes.push(o?.force);
            return o?.force ? Promise.resolve() : new Promise<void>((r) => (finish = r));
          },
        },
        { name: 'test', log, exit, forceExitMs: 10 },
      ),
    );
    process.emit('SIGINT');
    process.emit('SIGINT');
    expect(closes).toEqual([undefined, true]);
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(1));
    process.emit('SIGINT');
    expect(exit).toHaveBeenCalledTimes(2);
    finish();
  });

  it('exits 1 when closing fails', async () => {
    const exit = vi.fn();
    disposers.push(
      runService({ close: () => Promise.reject(new Error('boom')) }, { name: 'test', log, exit }),
    );
    process.emit('SIGTERM');
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(1));
  });
});
