// A whole worker through a Redis outage (a TCP relay cut and restored): one warning when it
// starts, one line when Redis is back, nothing per reconnect attempt, and no unhandled error event
// from any of its connections (BullMQ's duplicates included).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '@embedcam/config';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startWorker } from '../src/heatmap-worker.js';
import { REDIS_URL, recordingLogger, redisScope, tcpRelay, until } from './helpers.js';

describe('worker through a Redis outage', () => {
  const closers: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c();
  });

  it('logs each outage once, and its end', { timeout: 60_000 }, async () => {
    const scope = redisScope();
    closers.push(() => scope.cleanup());
    const dir = await mkdtemp(path.join(tmpdir(), 'embedcam-outage-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const relay = await tcpRelay(new URL(REDIS_URL));
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {});
    const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { log, lines } = recordingLogger();
    const config = loadConfig(
      {},
      {
        REDIS_URL: `redis://127.0.0.1:${relay.port}`,
        EMBEDCAM_PREFIX: scope.prefix,
        STORAGE_URI: dir,
        COMPUTE_THREADS: 1,
        WORKER_SHUTDOWN_TIMEOUT_MS: 1000,
      },
    );
    const worker = await startWorker(config, { log, statsIntervalMs: 3_600_000 });
    // Closed in reverse: Redis reachable again first, or closing would wait for it.
    closers.push(
      async () => {
        printed.mockRestore();
        warned.mockRestore();
      },
      () => relay.close(),
      () => worker.close({ force: true }),
      () => relay.restore(),
    );
    const redisLines = () => lines.filter((l) => /Redis/.test(l.msg));

    for (let outage = 1; outage <= 2; outage++) {
      relay.cut();
      await new Promise((r) => setTimeout(r, 2500)); // several reconnect attempts fail meanwhile
      expect(redisLines()).toHaveLength(2 * outage - 1);
      expect(redisLines().at(-1)).toMatchObject({
        level: 40,
        msg: 'worker: Redis unreachable (retrying quietly until it is back)',
        err: expect.stringMatching(/ECONNRESET|ECONNREFUSED|closed/),
      });
      await relay.restore();
      await until(() => redisLines().length === 2 * outage, 15_000);
      expect(redisLines().at(-1)).toMatchObject({ level: 30, msg: 'worker: Redis is back' });
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(redisLines()).toHaveLength(4);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const consoleOut = [...printed.mock.calls, ...warned.mock.calls].flat().join(' ');
    expect(consoleOut).not.toMatch(/Unhandled error event/);
  });
});
